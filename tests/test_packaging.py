"""The package as a `pip install .` user gets it: the example config inside, `liqbot init` working.

The install runs offline: a fresh venv borrows this venv's dependencies through a .pth line and
builds the wheel from a copy of the source tree with this venv's setuptools (no index, no build
isolation). scripts/check_install.sh does the same with a real `pip install .` from the index.
"""

import shutil
import subprocess
import sys
import sysconfig
import venv
from importlib import resources
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_packaged_example_is_the_repo_file() -> None:
    # bot/data/config.example.yaml is a symlink to the repo-root file: one copy, no drift
    packaged = resources.files("bot") / "data" / "config.example.yaml"
    assert packaged.read_text(encoding="utf-8") == (ROOT / "config.example.yaml").read_text()


def test_pyproject_declares_the_license() -> None:
    import tomllib

    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["license"] == "MIT"
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert any(r.startswith("setuptools>=77") for r in meta["build-system"]["requires"])


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout")
def test_pip_install_then_init_from_an_empty_directory(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md", "LICENSE", "config.example.yaml"):
        shutil.copy2(ROOT / name, src / name if src.exists() else _mkdir(src) / name)
    shutil.copytree(
        ROOT / "bot", src / "bot", symlinks=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)  # no bundled (old) setuptools shadowing ours
    py = env_dir / "bin" / "python"
    site = subprocess.run(
        [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(site) / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-index"]
    pip += ["--no-deps", "--no-build-isolation"]
    res = subprocess.run([*pip, "--ignore-installed", str(src)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    init = subprocess.run(
        [env_dir / "bin" / "liqbot", "init"], cwd=empty, capture_output=True, text=True
    )
    assert init.returncode == 0, init.stderr
    assert (empty / "config.yaml").read_text() == (ROOT / "config.example.yaml").read_text()
    check = subprocess.run(
        [env_dir / "bin" / "liqbot", "check-config"], cwd=empty, capture_output=True, text=True
    )
    assert check.returncode == 0 and "config OK (config.yaml)" in check.stdout, check.stderr
    # the installed copy ran, not this checkout; the wheel carries the licence and its SPDX id
    where = subprocess.run(
        [py, "-c", "import bot; print(bot.__file__)"], cwd=empty, capture_output=True, text=True
    )
    assert where.stdout.startswith(site)
    dist = next(Path(site).glob("liqbot-*.dist-info"))
    assert "License-Expression: MIT" in (dist / "METADATA").read_text()
    assert (dist / "licenses" / "LICENSE").exists()
    packaged = Path(site) / "bot" / "data" / "config.example.yaml"
    assert packaged.is_file() and not packaged.is_symlink()


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p
