#!/usr/bin/env bash
# `pip install .` into a fresh venv (dependencies from the package index), then `liqbot init` and
# `liqbot check-config` from an empty directory. Prints the time each step took. CI-friendly:
# exits non-zero on any failure. Usage: scripts/check_install.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
t0=$(date +%s.%N)
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$repo"
t1=$(date +%s.%N)
mkdir "$work/empty" && cd "$work/empty"
"$work/venv/bin/liqbot" init
"$work/venv/bin/liqbot" check-config > /dev/null
cmp config.yaml "$repo/config.example.yaml"
t2=$(date +%s.%N)
printf 'venv + pip install .: %.1f s; liqbot init + check-config: %.1f s\n' \
  "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)"
