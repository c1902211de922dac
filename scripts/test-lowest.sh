#!/usr/bin/env bash
# The test suite with every runtime dependency at the lower bound pyproject.toml declares
# (the "pdf" extra included), to show that the bounds really work.
# Usage: scripts/test-lowest.sh [PYTHON [PYTEST ARGUMENTS...]]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
shift || true  # the rest are arguments of pytest
venv="${LOWEST_VENV:-$root/.venv-lowest}"
lowest="$venv/lowest-constraints.txt"

rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" "$root/scripts/lowest_constraints.py" "$root/pyproject.toml" >"$lowest.tmp"
mv "$lowest.tmp" "$lowest"
echo "test-lowest: runtime dependencies at their lower bounds:"
sed 's/^/  /' "$lowest"
"$venv/bin/python" -m pip install --quiet -c "$lowest" -e "$root[pdf]"
# the test tools at whatever version fits the lowest runtime dependencies
"$venv/bin/python" -m pip install --quiet -c "$lowest" -e "$root[pdf,test]"
"$venv/bin/python" -m pip list --format=freeze >"$venv/installed.txt"
cd "$root"
# Old versions call functions that newer versions of their own dependencies deprecate
# (matplotlib 3.8 and pyparsing 3.3): such warnings are not errors in this run; every other
# warning is, as in make test.
"$venv/bin/pytest" -p no:cacheprovider -W "ignore::DeprecationWarning" "$@"
