"""The README's code example runs and does what it says."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_ten_line_example_trains():
    text = README.read_text()
    example = re.search(r"<!-- example: tested by tests/test_readme.py -->\n```python\n(.*?)```", text, re.S)
    assert example, "README lost its example"
    code = example.group(1)
    body = [line for line in code.splitlines() if line.strip() and not line.startswith(("import", "from"))]
    assert len(body) <= 12
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README example", "exec"), {})
    accuracy = float(out.getvalue().split()[-1])
    assert accuracy >= 0.97
