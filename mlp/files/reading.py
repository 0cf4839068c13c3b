"""Reading files ``mlp`` did not write, within bounds: regular files only, bounded JSON, and how much memory
a new array may take.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlp.messages import shorten

MAX_JSON_BYTES = 256 << 20  # histories and metrics are far smaller; a larger "JSON" file is not ours


def check_regular_file(path: Path, give: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` if ``path`` exists but is not a regular file: reading a device (``/dev/zero``) never ends,
    opening a pipe waits for a writer, and a folder has nothing to read. ``give`` says what to give instead."""
    if path.exists() and not path.is_file():
        raise error(f"{path} is not a regular file; give {give}")


def read_json(path: Path, what: str) -> Any:
    """The JSON value in ``path``; ``ValueError`` naming the file and ``what`` it should be if it is not
    readable JSON, larger than any file ``mlp`` writes, or nested too deeply to parse."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{path} is larger than any {what} mlp writes ({path.stat().st_size:,} bytes)")
        return json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"{path} is not {what} (not readable JSON: {shorten(str(err))})") from None


def available_memory() -> int:
    """Bytes a new allocation can take: the smaller of the system's available memory (Linux's MemAvailable)
    and what the process's cgroup (a container's limit) has left; a very large number where neither is known."""
    limits = [1 << 62]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        cgroup = Path("/sys/fs/cgroup")
        maximum = (cgroup / "memory.max").read_text().strip()
        if maximum != "max":
            limits.append(int(maximum) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return max(min(limits), 0)
