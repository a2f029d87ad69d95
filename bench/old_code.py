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
