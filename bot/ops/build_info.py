"""What this process runs: the package version, the Python, and the git commit when known.

Read once at start for `liqbot_build_info`. The commit comes from `$GIT_COMMIT` (an image build
passes it: `docker build --build-arg GIT_COMMIT=$(git rev-parse HEAD)`), else from the checkout
the package runs from (`git rev-parse`, 2 s at most); "" when neither says.
"""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # bot/ops/build_info.py -> the checkout


@dataclass(frozen=True, slots=True)
class BuildInfo:
    version: str
    python: str
    commit: str


def build_info(env: dict[str, str] | None = None) -> BuildInfo:
    e = os.environ if env is None else env
    try:
        version = metadata.version("liqbot")
    except metadata.PackageNotFoundError:  # run from a tree that was never installed
        version = "unknown"
    commit = e.get("GIT_COMMIT", "").strip() or _checkout_commit()
    return BuildInfo(version, platform.python_version(), commit)


def _checkout_commit() -> str:
    if not (PACKAGE_ROOT / ".git").exists():  # an installed wheel: no checkout to ask
        return ""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=2, check=True,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()
