"""Train the recipes of docs/results.md and rewrite its table from the runs' metrics.json files.

    python scripts/results.py run              # every recipe and seed not yet in docs/results/runs, then plot and table
    python scripts/results.py run mnist_fast   # one recipe's seeds
    python scripts/results.py table            # rewrite the table from the runs that are there
    python scripts/results.py table --check    # exit 1 if docs/results.md does not match the runs
    python scripts/results.py portable         # rewrite the machine's paths in every run's files

Each run is the command the table shows, ``mlp train configs/<recipe>.yaml --seed S --out docs/results/runs``,
with MNIST wherever ``mlp`` finds it (``MLP_DATA_DIR``, or the cache: ``mlp data download mnist`` once). The runs'
model files stay out of git (docs/results/.gitignore); their metrics, histories, logs and plots are committed,
with no path of the machine that trained them: the data's folder is written as a reader would name it on their
own (``cache ~/.cache/mlp/mnist``, ``MLP_DATA_DIR $MLP_DATA_DIR``), the run's folder relative to the clone
(``make_portable``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from mlp.data import DataError, load_mnist
from mlp.files.atomic import write_text
from mlp.runs.config import read, resolve, upgrade_stored_config

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "docs" / "results" / "runs"
PAGE = ROOT / "docs" / "results.md"
BEGIN, END = "<!-- table: scripts/results.py -->", "<!-- end of table -->"


@dataclass
class Recipe:
    config: str  # the stem of configs/<config>.yaml
    seeds: tuple[int, ...]
    published: str  # the result in the literature this row corresponds to
    plots: tuple[str, ...] = ()  # extra `mlp plot` options for the seed-0 run


RECIPES = [
    Recipe("keras_example", (0, 1, 2), "93.8 (Keras 3 running the same code on this machine [1])"),
    Recipe("mnist", (0, 1, 2), "95.3 (300 HU, MSE [2]); 98.4 (800 HU, cross-entropy [3])", ("--weights",)),
    Recipe("mnist_fast", (0, 1, 2), "98.0 in 5 epochs, 4.3 s (PyTorch, SGD 0.1 + Nesterov 0.9 [1])"),
    Recipe("mnist_best", (0, 1, 2), "98.94 / 99.05 (dropout and max-norm, ReLU 3x1024 / 2x8192 [4]); 99.16 "
           "(maxout, dropout and adversarial training [7])",
           ("--weights", "--confusion")),
    Recipe("mnist_elastic", (0, 1, 2),
           "99.30 (784-800-10, elastic distortions [3]); 99.65 (784-2500-2000-1500-1000-500-10, deformations [6])",
           ("--augment",)),
    Recipe("deep_sigmoid", (0,), "-"),
    Recipe("deep_tanh", (0,), "-"),
    Recipe("deep_relu", (0,), "-"),
]


def command(recipe: Recipe, seed: int) -> str:
    return f"mlp train configs/{recipe.config}.yaml --seed {seed} --out docs/results/runs"


def runs(recipe: Recipe) -> dict[int, Path]:
    """The recipe's finished runs in ``RUNS`` by seed: those whose config.yaml is what ``command`` resolves
    to now (so a run of an earlier version of the config is not counted), the latest where a seed ran twice."""
    found: dict[int, Path] = {}
    # run folders end in a timestamp: later sorts last; runs/latest is a link to the newest, not a run
    for metrics in sorted(m for m in RUNS.glob("*/metrics.json") if not m.parent.is_symlink()):
        # resolved again: keys added since the run was made take their defaults, which the run trained with
        stored = resolve(upgrade_stored_config(yaml.safe_load((metrics.parent / "config.yaml").read_text())))
        if stored == recipe_config(recipe, stored["seed"]):
            found[stored["seed"]] = metrics.parent
    return found


def recipe_config(recipe: Recipe, seed: int) -> dict[str, Any]:
    """The resolved config ``command(recipe, seed)`` trains, as ``mlp train`` stores it in config.yaml."""
    return resolve(read(ROOT / "configs" / f"{recipe.config}.yaml", options=[
        ("--seed", ["seed"], seed), ("--out", ["output", "dir"], str(RUNS.relative_to(ROOT)))]))


def train(recipes: list[Recipe]) -> None:
    try:  # the full set or an error: results on the bundled sample would mean nothing
        load_mnist(strict=True)
    except DataError as err:
        sys.exit(f"error: {err}")
    mlp = [sys.executable, "-c", "from mlp.cli import main; main()"]  # the `mlp` of this interpreter
    for recipe in recipes:
        for seed in recipe.seeds:
            if seed in runs(recipe):
                continue
            print(f"$ {command(recipe, seed)}", flush=True)
            subprocess.run([*mlp, *command(recipe, seed).split()[1:], "--quiet"], check=True, cwd=ROOT)
        for run in runs(recipe).values():
            make_portable(run)
        run = runs(recipe)[recipe.seeds[0]]
        subprocess.run([*mlp, "plot", str(run), *recipe.plots], check=True, cwd=ROOT)


def portable_path(path: Path) -> str:
    """An absolute ``path`` as a reader names it on their own machine: relative to the clone (the runs are trained
    from there), from ``~`` in the home folder, else as it is."""
    if path.is_relative_to(ROOT):
        return str(path.relative_to(ROOT))
    if path.is_relative_to(Path.home()):
        return f"~/{path.relative_to(Path.home())}"
    return str(path)


def portable_source(source: str) -> str:
    """A run's data source (``metrics.json: data.source``) as a reader names it: the folder in ``MLP_DATA_DIR`` as
    ``$MLP_DATA_DIR``, any other folder or file as ``portable_path`` does; a source with no path (``synthetic``,
    ``bundled sample``) as it is."""
    how, absolute, rest = source.partition(" /")  # "cache /home/me/.cache/mlp/mnist": how, then the folder
    if not absolute:
        return source
    if how == "MLP_DATA_DIR":
        return f"{how} $MLP_DATA_DIR"
    return f"{how} {portable_path(Path('/' + rest))}"


def make_portable(run: Path) -> None:
    """Rewrite the run's text files so that they carry no path of the machine that trained it: its data source as
    ``portable_source`` names it, the data's files in config.yaml as ``portable_path`` does, and the run's folder
    as the commands name it (``docs/results/runs/<run>``) where it was written as an absolute path."""
    source = json.loads((run / "metrics.json").read_text())["data"]["source"]
    data = yaml.safe_load((run / "config.yaml").read_text())["data"]
    replacements = {f'"source": "{source}"': f'"source": "{portable_source(source)}"',
                    f" from {source}: ": f" from {portable_source(source)}: ",
                    **{value: portable_path(Path(value)) for value in data.values()
                       if isinstance(value, str) and Path(value).is_absolute()},
                    str(run.parent.absolute()): str(RUNS.relative_to(ROOT))}
    for name in ("metrics.json", "train.log", "config.yaml"):
        path = run / name
        text = new = path.read_text() if path.is_file() else ""
        for old, replacement in replacements.items():
            new = new.replace(old, replacement)
        if new != text:
            write_text(path, new)


def describe_network(config_path: Path) -> str:
    """``784-512-10 relu (407,050)`` from a run's config.yaml (MNIST: 784 inputs)."""
    layers = yaml.safe_load(config_path.read_text())["model"]["layers"]
    widths = [784] + [layer["dense"] for layer in layers if "dense" in layer]
    params = sum(fan_in * fan_out + fan_out for fan_in, fan_out in pairwise(widths))
    dropout = ", dropout" if any("dropout" in layer for layer in layers) else ""
    activation = next(layer["activation"] for layer in layers if "dense" in layer)
    return f"{'-'.join(map(str, widths))} {activation}{dropout} ({params:,})"


def _mean_std(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.mean(values) * scale
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values) * scale:.{digits}f}"


def table() -> str:
    """The markdown table of every recipe that has runs."""
    lines = ["| recipe | network (parameters) | epochs | training s | test accuracy % | seeds | published accuracy % |",
             "|---|---|---:|---:|---:|---:|---|"]
    for recipe in RECIPES:
        found = runs(recipe)
        metrics: list[dict[str, Any]] = [json.loads((found[seed] / "metrics.json").read_text())
                                         for seed in recipe.seeds if seed in found]
        if not metrics:
            continue
        network = describe_network(found[min(found)] / "config.yaml")
        accuracies = [m["test"]["accuracy"] for m in metrics]
        seconds = [m["training_seconds"] for m in metrics]
        epochs = "/".join(sorted({str(m["epochs"]) for m in metrics}))
        if not metrics[0]["model"].endswith("(last)"):  # e.g. "best val_accuracy (0.9880) at epoch 57"
            epochs += f" (kept: {metrics[0]['model']})"
        lines.append(
            f"| [`{recipe.config}`](../configs/{recipe.config}.yaml) | {network} | {epochs} | "
            f"{_mean_std(seconds, digits=1)} | {_mean_std(accuracies, 100)} | "
            f"{len(metrics)} | {recipe.published} |")
    return "\n".join(lines)


def write_table(check: bool) -> int:
    missing = [recipe.config for recipe in RECIPES if not runs(recipe)]
    if missing:
        print(f"no run of the current {', '.join(f'configs/{name}.yaml' for name in missing)} in {RUNS}; "
              f"run: python scripts/results.py run {' '.join(missing)}", file=sys.stderr)
    page = PAGE.read_text()
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    new = page[:start] + "\n" + table() + "\n" + page[end:]
    if check:
        if new != page:
            print(f"{PAGE} does not match the runs in {RUNS}; run: python scripts/results.py table", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(new)
    print(f"wrote the table of {PAGE}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    run_parser = sub.add_parser("run", help="train the recipes' missing seeds, plot, and rewrite the table")
    run_parser.add_argument("recipes", nargs="*", metavar="RECIPE", help=", ".join(r.config for r in RECIPES))
    table_parser = sub.add_parser("table", help="rewrite the table from the runs")
    table_parser.add_argument("--check", action="store_true", help="only check that the page matches the runs")
    sub.add_parser("portable", help="rewrite the machine's paths in every run's files (run does it too)")
    args = parser.parse_args()
    if args.action == "portable":
        for metrics in sorted(RUNS.glob("*/metrics.json")):
            make_portable(metrics.parent)
        return 0
    if args.action == "run":
        names = [r.config for r in RECIPES]
        unknown = sorted(set(args.recipes) - set(names))
        if unknown:
            parser.error(f"unknown recipe {', '.join(unknown)}; recipes: {', '.join(names)}")
        train([r for r in RECIPES if not args.recipes or r.config in args.recipes])
    return write_table(check=args.action == "table" and args.check)


if __name__ == "__main__":
    sys.exit(main())
