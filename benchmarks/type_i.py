"""Cost and result of calibrating the deciding tests at 20 vacancies.

Runs ``pilot-eval diagnose benchmarks/plans/type-i-20.yaml --simulate --vacancies 20`` as a
separate process (the run the slow test ``tests/design/test_type_i.py`` makes in-process), times
it, and prints each deciding test's type-I error over both scenarios (both without effect)
with its Monte Carlo standard error. From the repository root:

    .venv/bin/python benchmarks/type_i.py                # 1,000 runs per scenario, 2 jobs
    .venv/bin/python benchmarks/type_i.py --vacancies 60   # 20 in the pilot arm
    .venv/bin/python benchmarks/type_i.py --sims 200 --jobs 1
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "benchmarks" / "plans" / "type-i-20.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--vacancies", type=int, default=20)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("pilot-eval")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "calibration"
        command = [str(exe), "diagnose", str(PLAN), "--simulate"]
        command += ["--vacancies", str(args.vacancies)]
        command += ["--sims", str(args.sims), "--jobs", str(args.jobs), "--out", str(out)]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        result = json.loads((out / "diagnosis.json").read_text(encoding="utf-8"))
    runs = 2 * args.sims
    print(
        f"{args.vacancies} vacancies, {runs} runs ({args.sims} per scenario, {args.jobs} jobs): "
        f"{seconds:.1f} s, "
        f"{1000 * seconds / runs:.1f} ms per run of {len(result['hypotheses'])} tests"
    )
    print("| hypothesis | deciding test | type-I error | Monte Carlo SE |")
    print("|---|---|---:|---:|")
    for h in result["hypotheses"]:
        null, declared = h["null"], h["declared"]
        n = null["estimable"] + declared["estimable"]
        rate = (
            null["type_i_error"] * null["estimable"]
            + declared["power_unadjusted"] * declared["estimable"]
        ) / n
        se = math.sqrt(rate * (1 - rate) / n)
        print(f"| {h['id']} | `{h['estimator']}` | {rate:.3f} | {se:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
