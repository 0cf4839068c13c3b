"""The README's code examples run and do what they say."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "datasets" / "mnist"


def example(marker: str) -> str:
    match = re.search(rf"<!-- {marker}.*? -->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert match, f"README lost its {marker}"
    return match.group(1)


def run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README example", "exec"), {})
    return out.getvalue()


def test_ten_line_example_trains():
    code = example("example")
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(body) <= 10
    accuracy = float(run(code).split()[-1])
    assert accuracy >= 0.95


@pytest.mark.skipif(not MNIST.is_dir(), reason="MNIST is not in ../shared/datasets/mnist")
def test_keras_mnist_example_runs(monkeypatch):
    monkeypatch.chdir(ROOT)
    code = example("mnist example").replace("epochs=20", "epochs=1")
    out = run(code)
    assert "Total params: 407,050" in out
    accuracy = float(re.search(r"'accuracy': ([0-9.]+)", out).group(1))
    assert accuracy > 0.85  # one epoch of plain SGD at lr 0.01


def test_registry_example_adds_an_activation_configs_can_name():
    from mlp.config import resolve
    from mlp.layer import LAYERS

    try:
        run(example("registry example"))
        config = resolve({"model": {"layers": [{"dense": 64, "activation": "scaled_tanh", "beta": 2.0},
                                               {"dense": 10}]}})
        assert config["model"]["layers"][0]["beta"] == 2.0
    finally:
        LAYERS.remove("scaled_tanh")
