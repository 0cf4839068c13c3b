"""The README and the manual work as written on a machine that has nothing but the package: every code block of a
page runs, in order, in an empty folder of the page's own, with the network blocked, no MNIST anywhere and an empty
cache, and every output block matches what was run (``docblocks`` says how). A test is a block (``python.md:120``),
so a failure names the page and the line; run alone, it first runs the page's blocks before it. Blocks that take
long are marked slow, and the blocks after them do not depend on them: ``pytest -m "not slow"`` runs the rest in
order without them. Blocks that need the full MNIST set run where ``MLP_DATA_DIR`` holds it."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import FULL_MNIST, needs_full_mnist
from docblocks import CAVEAT, FENCE, PAGES, Step, blocks, page_name, run_python, run_step, steps

import mlp.data.download
from mlp.nn.layer import LAYERS

STEPS = {page_name(path): steps(path) for path in PAGES}
# Blocks that take more than a few seconds, by page and a piece of their code
SLOW = {
    "README.md": ["mlp train spirals "],
    "command-line.md": ["mlp train spirals            # a shipped recipe"],
    "loggers.md": ["--set 'output.loggers=[tensorboard,mlflow]'"],  # MLflow makes its SQLite store
    "python.md": ['Dense(784, 512, init="glorot_uniform")'],
    "scaling.md": ["mpiexec -n 2 mlp train spirals"],
    "sweeps.md": ["mlp sweep lr_width.yaml", "mlp sweep spirals_tpe.yaml"],
}
# Blocks not run, by page and a piece of their code, and where they are checked instead
NOT_RUN = {
    "results.md": ["mlp train configs/keras_example.yaml"],  # test_results_page.py: the commands of the runs
    "loggers.md": ["tensorboard --logdir runs"],  # tests/loggers: the folder and database the commands name
    "sweeps.md": ["optuna-dashboard sqlite:///"],  # tests/runs/test_sweep_optuna.py: the study opens from that URL
}


def found(page: str, snippet: str) -> list[Step]:
    return [step for step in STEPS[page] if snippet in step.block.code]


def is_slow(page: str, step: Step) -> bool:
    return any(snippet in step.block.code for snippet in SLOW.get(page, ()))


def not_run(step: Step) -> bool:
    return step.block.marker("not run: ") is not None


def cases() -> list:
    """A test per step, and one more for a step that shows what it prints with the full MNIST set."""
    params = []
    for page, page_steps in STEPS.items():
        for index, step in enumerate(page_steps):
            if not_run(step):
                continue
            if step.full_mnist_only:
                params.append(pytest.param(page, index, True, id=step.id,
                                           marks=[needs_full_mnist, pytest.mark.slow]))
                continue
            params.append(pytest.param(page, index, False, id=step.id,
                                       marks=[pytest.mark.slow] if is_slow(page, step) else []))
            if step.shown(full_mnist=True):
                params.append(pytest.param(page, index, True, id=f"{step.id} (full MNIST)",
                                           marks=[needs_full_mnist, pytest.mark.slow]))
    return params


@dataclass
class PageRun:
    """Where a page's blocks run, what they defined, and how far they got."""

    folder: Path
    namespace: dict = field(default_factory=dict)
    done: int = 0  # the steps run so far
    failed: str | None = None  # the step that failed, if one did


@pytest.fixture(scope="session")
def page_runs(tmp_path_factory) -> dict[str, PageRun]:
    return {page: PageRun(tmp_path_factory.mktemp(page.replace("/", "-"))) for page in STEPS}


def offline(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Work in ``folder``, with an empty cache in it, no MLP_DATA_DIR, and no network at all."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("the network is blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(mlp.data.download.time, "sleep", lambda seconds: None)


def run(page_run: PageRun, step: Step, full_mnist: bool = False) -> None:
    try:
        run_step(step, page_run.namespace, page_run.folder, full_mnist)
    except BaseException:
        page_run.failed = step.id
        raise


@pytest.mark.parametrize(("page", "index", "full_mnist"), cases())
def test_code_block(page, index, full_mnist, page_runs, monkeypatch):
    page_run = page_runs[page]
    if page_run.failed:
        pytest.fail(f"not run: the block {page_run.failed} before it failed")
    offline(monkeypatch, page_run.folder)
    registered = set(LAYERS.names())
    try:
        for earlier in STEPS[page][page_run.done : index]:  # when run alone: what the blocks before it do
            if not (not_run(earlier) or earlier.full_mnist_only or is_slow(page, earlier)):
                run(page_run, earlier)
        page_run.done = max(page_run.done, index)
        step = STEPS[page][index]
        if full_mnist:
            monkeypatch.setenv("MLP_DATA_DIR", str(FULL_MNIST))
        run(page_run, step, full_mnist)
        if full_mnist == step.full_mnist_only:  # the step's own run, not a second one with the full set
            page_run.done = index + 1
    finally:
        for name in set(LAYERS.names()) - registered:  # an activation a page registers, as its example does
            LAYERS.remove(name)


def test_every_fence_opens_a_block_the_tests_run_or_name():
    for path in PAGES:
        page = page_name(path)
        assert len(FENCE.findall(path.read_text())) == 2 * len(blocks(path)), f"{page}: a fence the tests miss"
        unrun = [step.id for step in STEPS[page] if not_run(step)]
        assert unrun == [step.id for snippet in NOT_RUN.get(page, ()) for step in found(page, snippet)], unrun


def test_the_slow_and_unrun_blocks_are_named_by_one_block_each():
    for table in (SLOW, NOT_RUN):
        for page, snippets in table.items():
            for snippet in snippets:
                assert len(found(page, snippet)) == 1, (page, snippet)


def test_the_blocks_are_found():
    langs = [block.lang for path in PAGES for block in blocks(path)]
    counts = {lang: langs.count(lang) for lang in ("bash", "python", "yaml", "text")}
    assert counts["python"] >= 12 and counts["bash"] >= 12 and counts["yaml"] >= 3 and counts["text"] >= 20, counts
    assert sum(len(step.outputs) for page in STEPS.values() for step in page) >= 18


def test_an_output_compared_with_a_tolerance_says_so_on_its_page():
    """The prose right before or right after the block (to the next block) says that the numbers are exact on
    one machine only."""
    for path in PAGES:
        text, page_blocks = path.read_text(), blocks(path)
        for index, block in enumerate(page_blocks):
            if block.tolerance is None:
                continue
            start = page_blocks[index - 1].end if index else 0
            end = page_blocks[index + 1].start if index + 1 < len(page_blocks) else len(text)
            prose = text[start : block.start] + text[block.end : end]
            assert CAVEAT in " ".join(prose.split()), f"{block.page}:{block.line}: say '{CAVEAT}' next to it"


def test_the_ten_line_examples_are_ten_lines():
    examples = [step for page in STEPS for step in found(page, "XOR of the signs")]
    assert len(examples) == 2  # the README's and the Python page's
    for step in examples:
        lines = step.block.code.splitlines()
        body = [line for line in lines if line.strip() and not line.startswith(("import", "from"))]
        assert len(body) <= 10, step.id


def test_the_registry_example_adds_an_activation_a_config_can_name(tmp_path, monkeypatch):
    from mlp.runs.config import resolve

    monkeypatch.chdir(tmp_path)
    (step,) = found("python.md", '@LAYERS.register("scaled_tanh")')
    try:
        run_python(step.block.code, {}, step.id)
        config = resolve({"model": {"layers": [{"dense": 64, "activation": "scaled_tanh", "beta": 2.0},
                                               {"dense": 10}]}})
        assert config["model"]["layers"][0]["beta"] == 2.0
    finally:
        if "scaled_tanh" in LAYERS:
            LAYERS.remove("scaled_tanh")


def test_a_tolerance_lets_numbers_move_and_nothing_else():
    from docblocks import Block, assert_shown

    def shown(code: str, tolerance: bool = True) -> Block:
        return Block("page.md", 1, "text", code, ("numbers to within 1%",) if tolerance else (), 0, 0)

    assert_shown(shown("test     loss 0.2167  accuracy 0.9340\n"), "test     loss 0.2170  accuracy 0.9331\n")
    assert_shown(shown("Total params: 407,050\n"), "Total params: 407,100\n")
    for code, actual, tolerance in [("loss 0.2167\n", "loss 0.2367\n", True),   # beyond 1% of 1
                                     ("Total params: 407,050\n", "Total params: 417,050\n", True),
                                     ("epoch 2/100\n", "epoch 3/100\n", True),  # counts below 100 are exact
                                     ("loss 0.2167\n", "loss 0.2168\n", False),
                                     ("loss 0.2167\n", "cost 0.2167\n", True)]:
        with pytest.raises(AssertionError, match="but the output has no such line"):
            assert_shown(shown(code, tolerance), actual)


def test_a_line_of_dots_stands_for_any_lines_and_dots_in_a_line_for_anything():
    from docblocks import Block, assert_shown

    block = Block("page.md", 1, "text", "first ...\n...\nlast\n", (), 0, 0)
    assert_shown(block, "first line\nsecond\nthird\nlast\n")
    with pytest.raises(AssertionError):
        assert_shown(block, "last\nfirst line\n")
