#!/usr/bin/env bash
# Install pilot-eval as a user does and run the example from another folder.
# Builds the sdist and the wheel from it, installs the wheel (without extras) into a fresh venv, then in a temporary
# folder: imports the Python API, runs the example plan (the PDF is skipped without
# WeasyPrint, with a note), verifies the output, and compares results.json with a run of
# the checkout. Usage: scripts/check-wheel.sh [PYTHON of the development venv]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-$root/.venv/bin/python}"
case "$python" in /*) ;; *) python="$PWD/$python" ;; esac
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "wheel-check: building the sdist and, from it, the wheel"
# from the sdist, so that nothing left over in the checkout (build/, a deleted module) enters
"$python" -m build --outdir "$work/dist" "$root" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; exit 1; }
wheel="$(ls "$work"/dist/pilot_eval-*.whl)"
# the listing goes to a file first: `grep -q` on a pipe stops reading at its first match,
# and under pipefail the writer's broken pipe would fail the check at random
"$python" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}' >"$work/wheel-files"
for member in pilot_eval/analysis/evidence/__init__.py pilot_eval/analysis/estimators/__init__.py \
  pilot_eval/report/templates/report.html.j2 pilot_eval/report/templates/i18n/nl.yaml \
  pilot_eval/report/templates/report.css pilot_eval/formats/plan.schema.json pilot_eval/py.typed; do
  grep -qxF "$member" "$work/wheel-files" ||
    { echo "wheel-check: $member is missing from $(basename "$wheel")"; exit 1; }
done

# every module and template of the source, and nothing else
diff <(cd "$root" && find pilot_eval -type f -not -path '*/__pycache__/*' | sort) \
  <(grep '^pilot_eval/' "$work/wheel-files" | sort) ||
  { echo "wheel-check: the wheel's files differ from pilot_eval/ (above)"; exit 1; }

echo "wheel-check: installing $(basename "$wheel") into a fresh venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet -c "$root/constraints.txt" "$wheel"

mkdir "$work/elsewhere"
cd "$work/elsewhere"
# verify reads only inside the folder it runs in: the plan and the data are linked there
ln -s "$root/analysis_plans" plans
ln -s "$root/data/synthetic" data
"$work/venv/bin/python" - <<'PY'
from pilot_eval import __version__, plan_schema, run_plan, validate, verify
assert callable(run_plan) and callable(validate) and callable(verify)
assert plan_schema()["$id"] == "pilot-eval/plan-format-1"
print(f"wheel-check: pilot_eval {__version__} imports from {__import__('pilot_eval').__file__}")
PY
"$work/venv/bin/pilot-eval" run plans/breed-werven-2024.yaml \
  --data data --out out --lang nl 2>"$work/run.err" >"$work/run.out" ||
  { cat "$work/run.out" "$work/run.err"; exit 1; }
grep -q "^PDF report skipped: WeasyPrint is not installed" "$work/run.err" ||
  { echo "wheel-check: expected the one-line note that the PDF was skipped"; cat "$work/run.err"; exit 1; }
test -s out/report.nl.html && test -s out/report.nl.md && test ! -e out/report.nl.pdf
"$work/venv/bin/pilot-eval" verify out
# results.json is valid against the JSON Schema the wheel ships (checked with the
# development environment's jsonschema, a test dependency)
"$work/venv/bin/python" -c 'import json; from pilot_eval import results_schema
print(json.dumps(results_schema()))' >"$work/results.schema.json"
"$python" - "$work/results.schema.json" out/results.json <<'PY'
import json
import sys

import jsonschema

schema = json.load(open(sys.argv[1], encoding="utf-8"))
assert schema["$id"] == "pilot-eval/results-format-1", schema["$id"]
jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2], encoding="utf-8")))
print("wheel-check: results.json is valid against the packaged results.schema.json")
PY
mkdir "$work/checkout"
cd "$work/checkout"  # laid out as elsewhere/, so that the recorded paths are the same
ln -s "$root/analysis_plans" plans
ln -s "$root/data/synthetic" data
"$(dirname "$python")/pilot-eval" run plans/breed-werven-2024.yaml \
  --data data --out out >/dev/null 2>&1
cmp "$work/elsewhere/out/results.json" out/results.json
cmp "$work/elsewhere/out/report.nl.md" out/report.nl.md
echo "wheel-check: the installed wheel gives the same results.json and report as the checkout"
