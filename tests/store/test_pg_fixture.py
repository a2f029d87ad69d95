"""Without PostgreSQL the PostgreSQL tests skip and say why, except under CI=true: there they
fail, so CI cannot pass on SQLite alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import tests.pg as pg
from tests.pg import pg_server  # noqa: F401

pg.find_bindir = lambda: None  # as on a machine without PostgreSQL


def test_needs_postgresql(pg_server):
    pass
"""


def run_probe(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(probe), "-q", "-rs", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_without_postgresql_the_tests_skip_saying_why(tmp_path: Path) -> None:
    res = run_probe(tmp_path, ci=None)
    assert res.returncode == 0, res.stdout
    assert "1 skipped" in res.stdout and "PostgreSQL not found" in res.stdout


def test_under_ci_they_fail_instead(tmp_path: Path) -> None:
    res = run_probe(tmp_path, ci="true")
    assert res.returncode == 1, res.stdout
    assert "CI=true but PostgreSQL not found" in res.stdout
    assert "skipped" not in res.stdout
