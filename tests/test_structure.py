"""The package's structure: layers that import only downwards (nn and data, below train, below runs, below the
command line), no import cycles among its modules, no command that imports another, and ``import mlp`` loads
no optional dependency."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import mlp

PACKAGE = Path(mlp.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str], anywhere: bool = False) -> set[str]:
    """The ``mlp`` modules ``path`` imports when it is imported: module-level imports, outside
    ``if TYPE_CHECKING:`` blocks (imports inside functions run later, and cannot make a cycle); with
    ``anywhere``, every import in the file, inside functions and type-checking blocks too."""
    tree = ast.parse(path.read_text())
    typing_only = [node for node in tree.body if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)]
    nodes = ast.walk(tree) if anywhere else (node for node in tree.body if node not in typing_only)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mlp import functional` imports the module mlp.nn.functional; `from mlp.x import y`, mlp.x
            found |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                      for a in node.names}
    return {name for name in found if name in modules}


def graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: imports(path, set(paths)) for name, path in paths.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search, each as the path that closes it."""
    found, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(edges[node]):
            if state.get(target) == "open":
                found.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def test_no_module_of_mlp_imports_itself_through_others():
    edges = graph()
    # a package's __init__ importing its own modules is not a cycle through them
    edges = {name: {t for t in targets if not name.startswith(f"{t}.")} for name, targets in edges.items()}
    assert cycles(edges) == []


def test_the_check_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_command_modules_import_no_other_command():
    edges = graph()
    commands = {name for name in edges if name.startswith("mlp.cli.") and name != "mlp.cli.common"}
    assert {name: edges[name] & commands for name in commands if edges[name] & commands} == {}


def test_the_library_does_not_import_the_command_line():
    edges = graph()
    library = {name for name in edges if not name.startswith("mlp.cli") and name != "mlp.__main__"}
    assert {name: targets for name in library if (targets := {t for t in edges[name] if t.startswith("mlp.cli")})} == {}


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in edges[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


# The layers, bottom up: a module imports only from layers below its own, or from its own package (the shared
# pieces also from each other: cycles are checked above). `nn` (the math) and `data` are side by side and know
# nothing of each other; the modules users import by name (`mlp.sklearn`, `mlp.export`, `mlp.plots`) build on
# `runs` (export on the network alone), and the command line on them.
LAYERS = (
    # (`mlp` itself is its version and a map of names to modules it imports on first use, PEP 562)
    ("shared", ("mlp", "mlp.registry", "mlp.settings", "mlp.messages", "mlp.arrays", "mlp.extras", "mlp.files",
                "mlp.native")),
    ("nn", ("mlp.nn",)),
    ("data", ("mlp.data",)),
    ("train", ("mlp.train",)),
    # callbacks (they build on train) that a run adds (runs builds on them)
    ("loggers", ("mlp.loggers",)),
    ("runs", ("mlp.runs",)),
    # ONNX export builds on the network alone; skl2onnx's converter of mlp.sklearn's estimators builds on it, and
    # mlp.sklearn hands its classes to the converter (which never imports mlp.sklearn)
    ("export", ("mlp.export",)),
    ("sklearn_onnx", ("mlp.sklearn_onnx",)),
    ("interfaces", ("mlp.sklearn", "mlp.plots")),
    ("cli", ("mlp.cli",)),
    ("entry", ("mlp.__main__",)),
)
RANK = {"shared": 0, "nn": 1, "data": 1, "train": 2, "loggers": 3, "runs": 4, "export": 5, "sklearn_onnx": 6,
        "interfaces": 7, "cli": 8, "entry": 9}


def layer_of(module: str) -> tuple[str, str]:
    """The layer of ``module`` and the package (or root module) it belongs to within it."""
    for layer, homes in LAYERS:
        for home in homes:
            if module == home or (home != "mlp" and module.startswith(f"{home}.")):
                return layer, home
    raise AssertionError(f"{module} is in no layer of LAYERS")


def upward(source: str, target: str) -> bool:
    (source_layer, source_home), (target_layer, target_home) = layer_of(source), layer_of(target)
    if source_home == target_home or source_layer == target_layer == "shared":
        return False
    return RANK[target_layer] >= RANK[source_layer]


def test_every_module_imports_only_from_the_layers_below_its_own():
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    found = {(name, target) for name, path in paths.items() for target in imports(path, set(paths), anywhere=True)
             if upward(name, target)}
    assert sorted(found) == []


def test_the_layer_check_finds_an_upward_import():
    assert upward("mlp.nn.dense", "mlp.train.loop")
    assert upward("mlp.nn.dense", "mlp.data.split")  # side by side: no import either way
    assert upward("mlp.files.atomic", "mlp.nn.layer")
    assert not upward("mlp.train.loop", "mlp.nn.dense")
    assert not upward("mlp.nn.losses", "mlp.nn.sample_weights")


def test_the_data_modules_load_no_native_code():
    edges = graph()
    for name in (name for name in edges if name.startswith("mlp.data")):
        assert not {t for t in reachable(edges, name) if t.startswith("mlp.native")}, name


def test_import_mlp_loads_no_optional_dependency():
    extras = ("matplotlib", "sklearn", "onnx", "skl2onnx", "mpi4py", "dask", "tensorboardX", "tensorboard", "mlflow",
              "optuna")
    code = f"import sys, mlp; print([m for m in {extras} if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "[]\n"


def test_an_option_that_a_command_sets_itself_is_never_named_in_errors(tmp_path):
    from conftest import assert_one_line_error, invoke

    (tmp_path / "bad.yaml").write_text("model: 3\n")  # gradcheck forces float64 itself, not through an option
    assert_one_line_error(invoke("gradcheck", tmp_path / "bad.yaml"),
                          "model must be a mapping (key: value, ...), got 3")
    assert_one_line_error(invoke("train", tmp_path / "bad.yaml", "--epochs", "2"),
                          "model must be a mapping (key: value, ...), got 3")
    assert_one_line_error(invoke("train", "--set", "training=5", "--epochs", "2"),
                          "--epochs: training is a value, not a section; set it with --set training=...")


def test_the_library_checks_nothing_with_assert():
    # `python -O` drops assert statements: a check that must hold at run time raises an error that says what to do
    found = [f"{path.relative_to(PACKAGE.parent)}:{node.lineno}" for path in PACKAGE.rglob("*.py")
             for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assert)]
    assert found == []
