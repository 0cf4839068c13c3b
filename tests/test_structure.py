"""The package's structure: no import cycles among its modules, the command line holds no library code that
another command imports, and ``import mlp`` loads no optional dependency."""

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


def imports(path: Path, modules: set[str]) -> set[str]:
    """The ``mlp`` modules ``path`` imports when it is imported: module-level imports, outside
    ``if TYPE_CHECKING:`` blocks (imports inside functions run later, and cannot make a cycle)."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from mlp import functional` imports the module mlp.functional; `from mlp.x import y`, mlp.x
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


def test_the_data_modules_depend_on_no_trainer_and_no_native_code():
    # (`import mlp.data.idx` still runs mlp/__init__.py, which imports the public API and so fills every
    # registry; what is checked here is that the data layer itself needs nothing above it)
    edges = graph()
    above = {"mlp.training", "mlp.callbacks", "mlp.checkpoint", "mlp.optim", "mlp.native.blas", "mlp.native.fpenv",
             "mlp.run", "mlp.config"}
    for name in (name for name in edges if name.startswith("mlp.data")):
        assert reachable(edges, name) & above == set(), name


def test_import_mlp_loads_no_optional_dependency():
    extras = ("matplotlib", "sklearn", "onnx", "mpi4py", "dask")
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
