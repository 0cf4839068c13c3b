"""docs/results.md: its table is what scripts/results.py makes of the committed runs' metrics.json files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from docblocks import blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # reads every committed run
def test_the_results_table_matches_the_committed_runs():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "results.py"), "table", "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_run_has_its_metrics_and_every_image_shown_exists():
    page = (ROOT / "docs" / "results.md").read_text()
    runs = sorted((ROOT / "docs" / "results" / "runs").iterdir())
    assert runs, "no result runs"
    for run in runs:
        assert (run / "metrics.json").is_file() and (run / "config.yaml").is_file(), run
    for image in [line.split("](")[1].split(")")[0] for line in page.splitlines() if line.startswith("![")]:
        assert (ROOT / "docs" / image).is_file(), image


@pytest.mark.slow
def test_the_commands_shown_are_the_ones_that_made_the_runs():
    """The page's commands block (not run by test_code_blocks.py: hours of training) lists exactly the commands
    scripts/results.py trains the table's runs with, which it finds by their configs."""
    spec = importlib.util.spec_from_file_location("results_script", ROOT / "scripts" / "results.py")
    results = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = results  # where its dataclasses look up their module
    spec.loader.exec_module(results)
    (block,) = [block for block in blocks(ROOT / "docs" / "results.md") if block.marker("not run: ")]
    shown = [line for line in block.code.splitlines() if line.startswith("mlp train ")]
    assert shown == [results.command(recipe, seed) for recipe in results.RECIPES for seed in recipe.seeds]
    for recipe in results.RECIPES:
        assert sorted(results.runs(recipe)) == list(recipe.seeds), recipe.config
