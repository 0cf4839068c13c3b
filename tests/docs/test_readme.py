"""The README is the front page: short, its links lead somewhere, and its set-up commands are the ones CI runs.
(Its code blocks run with the manual's, in test_code_blocks.py.)"""

from __future__ import annotations

import re

from docblocks import CI, ROOT, blocks

README = ROOT / "README.md"
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def test_the_readme_is_a_front_page_of_at_most_250_lines():
    assert len(README.read_text().splitlines()) <= 250


def test_ci_runs_the_set_up_commands_of_the_readme_in_order():
    (setup,) = [block.code for block in blocks(README) if 'pip install -e ".[dev]"' in block.code]
    ci = [line for line in CI.read_text().splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert [f"{line} || exit 1" for line in setup.splitlines()] == ci


def test_the_set_up_builds_the_manual_strictly_and_names_the_edit_loops():
    (setup,) = [block.code for block in blocks(README) if 'pip install -e ".[dev]"' in block.code]
    assert "ruff check . && pytest\n" in setup and "mkdocs build --strict\n" in setup
    text = " ".join(README.read_text().split())
    assert '`pytest -m "not slow"`' in text and "`mkdocs serve`" in text


def test_every_link_and_image_of_the_readme_is_in_the_repository():
    targets = [match["target"] for match in LINK.finditer(README.read_text())]
    local = [target.split("#")[0] for target in targets if "://" not in target]
    assert len(local) >= 15 and any(target.endswith(".png") for target in local), local
    missing = [target for target in local if not (ROOT / target).exists()]
    assert not missing, missing


def test_the_readme_links_every_page_of_the_manual():
    linked = {match["target"] for match in LINK.finditer(README.read_text())}
    pages = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md") if path.name != "index.md"}
    assert pages <= linked, sorted(pages - linked)
