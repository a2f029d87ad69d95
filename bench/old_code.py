"""The code a benchmark compares against: a commit's tree exported with `git archive`."""

from __future__ import annotations

import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def export(commit: str, into: Path, paths: tuple[str, ...] = ("bot", "tests")) -> None:
    """`paths` of `commit` into `into` (bot/ and tests/: a benchmark drives the fakes too)."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", commit, *paths], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(into, filter="data")


def cpu_ticks() -> tuple[int, int]:
    """(steal, all) jiffies of every CPU since boot, from /proc/stat; (0, 0) where there is none.
    On a virtual machine, steal is time the host ran someone else while we were runnable: the
    share of it during a run says how much of a slow figure is the machine's, not the code's."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return (fields[7] if len(fields) > 7 else 0), sum(fields)


def steal_since(before: tuple[int, int]) -> float:
    """The percentage of CPU time stolen by the host since `before` (cpu_ticks())."""
    steal, total = cpu_ticks()
    d = total - before[1]
    return 100.0 * (steal - before[0]) / d if d > 0 else 0.0
