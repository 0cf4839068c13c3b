"""The README works as written on a machine that has nothing but the package: every code block runs, in
order, in an empty folder, with the network blocked, no MNIST anywhere and an empty cache; every output
block matches what was run (up to timings, run names and text the README elides with "..."); the set-up
commands are the ones CI runs."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from conftest import FULL_MNIST, invoke, needs_full_mnist

import mlp.data.download
from mlp.nn.layer import LAYERS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)```", re.S)
MASKS = [  # what differs between two runs of the same thing: timings and run directories' timestamps
    (r"\d+\.\d+ s \([\d,]+ samples/s\)", "T s (N samples/s)"),
    (r"time     \d+\.\d+ s training", "time     T s training"),
    (r"\d{8}-\d{6}", "YYYYmmdd-HHMMSS"),
]
SETUP = ("python3 -m venv", "ruff check", "pip install -e")  # the set-up lines: .ci/run runs them


def mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = re.sub(pattern, replacement, line)
    return line.rstrip()


def assert_shown(expected: str, actual: str, what: str) -> None:
    """Every line of the README's output block appears in ``actual``, in order; "..." in a line stands for
    anything, and a line of "..." for any number of lines."""
    lines = [mask(line) for line in actual.splitlines()]
    position = 0
    for line in expected.splitlines():
        if line.strip() == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in mask(line).split("...")) + "$")
        found = next((i for i in range(position, len(lines)) if pattern.match(lines[i])), None)
        assert found is not None, f"{what}: the README shows\n{line}\nbut the output has no such line after " \
                                  f"line {position}:\n{actual}"
        position = found + 1


def run_mlp(command: str) -> str:
    """An ``mlp`` command line of the README, in-process; its stdout and stderr."""
    result = invoke(*shlex.split(command, comments=True)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    return result.stderr + result.stdout  # a warning comes first on a terminal: it is said before training


def run_mpiexec(command: str) -> str:
    """``mpiexec -n K mlp ...`` of the README, for real (the mpi extra's mpiexec); its stdout and stderr."""
    words = shlex.split(command, comments=True)
    at = words.index("mlp")
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert mpiexec is not None, "no mpiexec: the dev extra installs it"
    result = subprocess.run([mpiexec, *words[1:at], sys.executable, "-m", "mlp", *words[at + 1 :]],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    return result.stderr + result.stdout


def run_bash(code: str) -> str:
    output = []
    for line in code.splitlines():
        command = " ".join(shlex.split(line, comments=True))
        if not command:
            continue
        if command.startswith("mlp "):
            output.append(run_mlp(command))
        elif command.startswith("mpiexec "):
            output.append(run_mpiexec(command))
        elif command.startswith(SETUP):
            assert line.split("#")[0].strip() in (ROOT / ".ci" / "run").read_text(), f"CI does not run: {line}"
        else:
            assert command.startswith("pip install numpy-mlp"), f"the test does not know how to run: {line}"
    return "".join(output)


def run_python(code: str, namespace: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
        # shown as a user sees them, on stderr: not the errors (or records) pytest makes of them
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: out.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        exec(compile(code, "README", "exec"), namespace)
    return out.getvalue()


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty folder to work in, an empty cache, no MLP_DATA_DIR, and no network at all."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("MLP_DATA_DIR", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("the network is blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(mlp.data.download.time, "sleep", lambda seconds: None)
    yield tmp_path
    if "scaled_tanh" in LAYERS:  # registered by the README's own example
        LAYERS.remove("scaled_tanh")


def test_every_code_block_runs_as_written_offline_and_shows_what_it_prints(offline):
    namespace: dict = {}
    output = ""
    counts = {"bash": 0, "python": 0, "yaml": 0, "text": 0}
    for match in BLOCK.finditer(README):
        lang, code, marker = match["lang"], match["code"], match["marker"] or ""
        counts[lang] += 1
        if lang == "bash":
            output = run_bash(code)
        elif lang == "python":
            output = run_python(code, namespace)
        elif marker.startswith("file: "):  # a file the commands after it use: written where they run
            (offline / marker.removeprefix("file: ")).write_text(code)
        elif lang == "yaml":  # the annotated config is a valid config
            (offline / "annotated.yaml").write_text(code)
            assert yaml.safe_load(code) and run_mlp(f"mlp config validate {offline / 'annotated.yaml'}")
        elif lang == "text" and marker.startswith("output of: "):
            assert_shown(code, run_mlp(marker.removeprefix("output of: ")), marker)
        elif lang == "text" and code.startswith("$ "):  # a transcript: commands and the errors they print
            for command, expected in re.findall(r"^\$ (.*)\n(error: .*)$", code, re.M):
                result = invoke(*shlex.split(command)[1:])
                assert result.exit_code == 2 and result.stderr == expected + "\n", (command, result.stderr)
        elif lang == "text" and marker != "output with the full MNIST set":
            assert_shown(code, output, f"the output block after the code block before it:\n{code[:200]}")
        else:
            assert lang == "text", f"a {lang or 'plain'} code block the test does not know how to run"
    assert counts["python"] >= 8 and counts["bash"] >= 5 and counts["text"] >= 10, counts


def test_the_offline_results_the_readme_quotes():
    assert "{'loss': 0.4992329180240631, 'accuracy': 0.862}" in README  # checked by running it, below
    assert "test     loss 0.2167  accuracy 0.9340" in README


def test_the_ten_line_example_is_ten_lines():
    code = next(m["code"] for m in BLOCK.finditer(README) if "XOR of the signs" in m["code"])
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(body) <= 10


def test_the_keras_example_prints_what_the_readme_says_offline(offline):
    code = next(m["code"] for m in BLOCK.finditer(README) if "Dense(784, 512, init=\"glorot_uniform\")" in m["code"])
    out = run_python(code, {})
    assert "BUNDLED SAMPLE" in out and "Total params: 407,050" in out
    assert "{'loss': 0.4992329180240631, 'accuracy': 0.862}" in out


@needs_full_mnist
def test_the_keras_example_with_the_full_set(monkeypatch):
    monkeypatch.setenv("MLP_DATA_DIR", str(FULL_MNIST))
    match = next(m for m in BLOCK.finditer(README) if m["marker"] == "output with the full MNIST set")
    code = next(m["code"] for m in BLOCK.finditer(README) if "Dense(784, 512, init=\"glorot_uniform\")" in m["code"])
    assert_shown(match["code"], run_python(code, {}), "the Keras example on the full set")


def test_ci_runs_the_set_up_commands_of_the_readme():
    setup = next(m["code"] for m in BLOCK.finditer(README) if "pip install -e" in m["code"])
    ci = (ROOT / ".ci" / "run").read_text()
    for line in setup.splitlines():
        assert line in ci, line


def test_the_registry_example_adds_an_activation_a_config_can_name(offline):
    from mlp.runs.config import resolve

    code = next(m["code"] for m in BLOCK.finditer(README) if '@LAYERS.register("scaled_tanh")' in m["code"])
    run_python(code, {})
    config = resolve({"model": {"layers": [{"dense": 64, "activation": "scaled_tanh", "beta": 2.0}, {"dense": 10}]}})
    assert config["model"]["layers"][0]["beta"] == 2.0
