"""docs/results.md: its table is what scripts/results.py makes of the committed runs' metrics.json files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
