"""The code blocks of the README and of the manual's pages, as the tests run them.

A page is cut into steps: a code block and the output blocks shown after it, or a block that stands alone (a
file the commands after it use, an annotated config, the output of a command it names, a transcript of errors).
A comment line right before a block says how to treat it, several separated by "; ":

- ``file: NAME``: the block is a file the blocks after it use, written where they run;
- ``output of: COMMAND``: the block is what the ``mlp`` command prints;
- ``with the full MNIST set``: the code block runs only where ``MLP_DATA_DIR`` holds the full set, with it;
- ``output with the full MNIST set``: the output block is what the code block before it prints with the full set
  (it is compared where ``MLP_DATA_DIR`` holds it, by running the code block again with it);
- ``numbers to within 1%``: the output's numbers come from float32 training, whose matrix products round
  differently with each CPU's kernels: each number is compared to within 1% of itself, or of 1 below 1, and the
  page says so next to the block;
- ``not run: REASON``: the block is not run (the tests name each such block, and check it otherwise).

An output block matches what was run when every line of it appears in the output, in order, up to timings and
run names; "..." in a line stands for anything, and a line of "..." for any number of lines.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from importlib.metadata import metadata
from pathlib import Path

import yaml
from conftest import invoke

ROOT = Path(__file__).resolve().parents[2]
# The README, the manual's pages and the API reference's (which have no code blocks, and must keep it so)
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^(?:<!-- (?P<markers>[^>]*) -->\n)?```(?P<lang>\w*)\n(?P<code>.*?)^```$", re.S | re.M)
FENCE = re.compile(r"^```", re.M)
MASKS = [  # what differs between two runs of the same thing: timings and run directories' timestamps
    (r"\d+\.\d+ s \([\d,]+ samples/s\)", "T s (N samples/s)"),
    (r"time     \d+\.\d+ s training", "time     T s training"),
    (r"\d{8}-\d{6}", "YYYYmmdd-HHMMSS"),
]
NUMBER = r"[-+]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
TOLERANCE = re.compile(r"numbers to within (?P<percent>[\d.]+)%")
FULL_MNIST_CODE, FULL_MNIST_OUTPUT = "with the full MNIST set", "output with the full MNIST set"
# The commands of a set-up block, which CI runs (.ci/run) rather than the tests
SETUP = ("python3 -m venv", "ruff check", "pip install -e", "mkdocs build")
CI = ROOT / ".ci" / "run"
# The page says so next to an output compared with a tolerance
CAVEAT = "bit-identical on one machine, not across CPUs"


@dataclass
class Block:
    """A fenced block of a page: where it is, its language, its code and the markers before it."""

    page: str
    line: int
    lang: str
    code: str
    markers: tuple[str, ...]
    start: int  # where it starts and ends in the page's text, its marker included
    end: int

    def marker(self, prefix: str) -> str | None:
        """The marker that starts with ``prefix``, without it, or ``None``."""
        return next((m.removeprefix(prefix) for m in self.markers if m.startswith(prefix)), None)

    @property
    def tolerance(self) -> float | None:
        """The relative tolerance of the block's numbers, or ``None`` for an exact comparison."""
        match = next((TOLERANCE.fullmatch(m) for m in self.markers if TOLERANCE.fullmatch(m)), None)
        return float(match["percent"]) / 100 if match else None

    @property
    def is_output(self) -> bool:
        """Whether the block shows what the code block before it printed."""
        return (self.lang == "text" and self.marker("output of: ") is None and self.marker("file: ") is None
                and self.marker("not run: ") is None and not self.code.startswith("$ "))


@dataclass
class Step:
    """A block the tests run, and the output blocks that show what it prints."""

    block: Block
    outputs: list[Block] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.block.page}:{self.block.line}"

    @property
    def full_mnist_only(self) -> bool:
        return FULL_MNIST_CODE in self.block.markers

    def shown(self, full_mnist: bool) -> list[Block]:
        """The output blocks to compare when the step runs offline, or with the full set."""
        if self.full_mnist_only:
            return self.outputs if full_mnist else []
        return [block for block in self.outputs if (FULL_MNIST_OUTPUT in block.markers) == full_mnist]


def page_name(path: Path) -> str:
    return path.relative_to(ROOT / "docs").as_posix() if path.parent != ROOT else path.name


def blocks(path: Path) -> list[Block]:
    text = path.read_text()
    return [Block(page_name(path), text.count("\n", 0, match.start("lang")) + 1, match["lang"], match["code"],
                  tuple(match["markers"].split("; ")) if match["markers"] else (), match.start(), match.end())
            for match in BLOCK.finditer(text)]


def steps(path: Path) -> list[Step]:
    """The page's steps, in order."""
    found: list[Step] = []
    for block in blocks(path):
        if block.is_output:
            assert found and found[-1].block.lang in ("bash", "python"), \
                f"{block.page}:{block.line}: an output block with no code block before it"
            found[-1].outputs.append(block)
        else:
            found.append(Step(block))
    return found


def mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = re.sub(pattern, replacement, line)
    return line.rstrip()


def line_pattern(line: str, numbers: bool) -> tuple[re.Pattern, list[float]]:
    """A shown line as a pattern for a line of output ("..." matching anything) and, with ``numbers``, each of
    its numbers as a group, with their shown values."""
    parts, values = [], []
    for index, piece in enumerate(mask(line).split("...")):
        if index:
            parts.append(".*")
        if not numbers:
            parts.append(re.escape(piece))
            continue
        last = 0
        for number in re.finditer(NUMBER, piece):
            parts += [re.escape(piece[last : number.start()]), f"({NUMBER})"]
            values.append(float(number.group().replace(",", "")))
            last = number.end()
        parts.append(re.escape(piece[last:]))
    return re.compile("".join(parts) + "$"), values


def assert_shown(shown: Block, actual: str) -> None:
    """Every line of the output block appears in ``actual``, in order (see the module's docstring)."""
    tolerance = shown.tolerance
    lines = [mask(line) for line in actual.splitlines()]
    position = 0
    for line in shown.code.splitlines():
        if line.strip() == "...":
            continue
        pattern, values = line_pattern(line, numbers=tolerance is not None)

        def matches(candidate: str, pattern=pattern, values=values) -> bool:
            match = pattern.match(candidate)
            return match is not None and all(
                abs(float(got.replace(",", "")) - value) <= tolerance * max(abs(value), 1)
                for got, value in zip(match.groups(), values, strict=True))

        found = next((i for i in range(position, len(lines)) if matches(lines[i])), None)
        assert found is not None, (f"{shown.page}:{shown.line} shows\n{line}\nbut the output has no such line after "
                                   f"line {position}{' (to within the tolerance)' if tolerance else ''}:\n{actual}")
        position = found + 1


def run_mlp(command: str) -> str:
    """An ``mlp`` command line of a page, in-process; its stdout and stderr."""
    result = invoke(*shlex.split(command, comments=True)[1:])
    assert result.exit_code == 0, f"{command}\n{result.output}"
    return result.stderr + result.stdout  # a warning comes first on a terminal: it is said before training


def run_mpiexec(command: str) -> str:
    """``mpiexec -n K mlp ...`` of a page, for real (the mpi extra's mpiexec); its stdout and stderr."""
    words = shlex.split(command, comments=True)
    at = words.index("mlp")
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert mpiexec is not None, "no mpiexec: the dev extra installs it"
    result = subprocess.run([mpiexec, *words[1:at], sys.executable, "-m", "mlp", *words[at + 1 :]],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout}{result.stderr}"
    return result.stderr + result.stdout


def check_install(line: str) -> None:
    """``pip install ".[EXTRAS]"`` in a clone's folder: not run (the tests run in an installed clone, and the wheel
    test installs the package afresh), but the extras it names are the package's."""
    match = re.fullmatch(r'pip install "\.\[(?P<extras>[\w,]+)\]"', line.split("#")[0].strip())
    assert match, f"not an install line the test knows: {line}"
    extras = metadata("numpy-mlp").get_all("Provides-Extra")
    assert set(match["extras"].split(",")) <= set(extras), f"{line}: the package's extras are {extras}"


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
            assert line.split("#")[0].strip() in CI.read_text(), f"CI does not run: {line}"
        elif command.startswith("pip install .["):
            check_install(line)
        else:
            raise AssertionError(f"the test does not know how to run: {line}")
    return "".join(output)


def run_python(code: str, namespace: dict, name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
        # shown as a user sees them, on stderr: not the errors (or records) pytest makes of them
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: out.write(
            warnings.formatwarning(message, category, filename, lineno, line))
        exec(compile(code, name, "exec"), namespace)
    return out.getvalue()


def run_step(step: Step, namespace: dict, folder: Path, full_mnist: bool = False) -> None:
    """Runs the step's block in ``folder`` (the current directory) and compares what it prints with the page."""
    block, output = step.block, ""
    if block.marker("file: ") is not None:
        (folder / block.marker("file: ")).write_text(block.code)
    elif block.lang == "bash":
        output = run_bash(block.code)
    elif block.lang == "python":
        output = run_python(block.code, namespace, step.id)
    elif block.lang == "yaml":  # an annotated config is a valid config
        (folder / "annotated.yaml").write_text(block.code)
        assert yaml.safe_load(block.code) and run_mlp(f"mlp config validate {folder / 'annotated.yaml'}")
    elif block.lang == "text" and block.marker("output of: ") is not None:
        assert_shown(block, run_mlp(block.marker("output of: ")))
    elif block.lang == "text" and block.code.startswith("$ "):  # a transcript: commands and the errors they print
        pairs = re.findall(r"^\$ (.*)\n(error: .*)$", block.code, re.M)
        assert len(pairs) == block.code.count("\n$ ") + 1, f"{step.id}: each command is followed by its error"
        for command, expected in pairs:
            result = invoke(*shlex.split(command)[1:])
            assert result.exit_code == 2 and result.stderr == expected + "\n", (command, result.stderr)
    else:
        raise AssertionError(f"{step.id}: a {block.lang or 'plain'} code block the test does not know how to run")
    for shown in step.shown(full_mnist):
        assert_shown(shown, output)
