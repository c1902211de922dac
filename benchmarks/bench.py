"""Speed and memory of pilot-eval against its targets, with peer implementations.

Run from the repository root, in the project's environment:

    .venv/bin/python benchmarks/bench.py            # every figure
    .venv/bin/python benchmarks/bench.py --skip-rijk # without the 2-million-row run

Bundles come from ``pilot-eval simulate --vacancies V`` and are written once into
``--work`` (default ``benchmarks/.work``, ignored by git); generating them is not timed.
In-process figures are the best of ``--repeat`` runs; whole-process figures time one
``pilot-eval`` process from start to exit, with its peak resident memory. Peers run only
where they are installed: linearmodels (the ``bench`` extra), pyfixest (``pip install
'.[bench]'``) and R with estimatr (``apt-get install r-cran-estimatr``). Every peer must
give the same estimate as pilot-eval (to 1e-8), or the script says so.

Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
SHIPPED = ROOT / "data" / "synthetic"
CLI = str(Path(sys.executable).with_name("pilot-eval"))


@dataclass
class Figure:
    name: str
    seconds: float
    target: float | None = None
    memory_gb: float | None = None
    memory_target_gb: float | None = None

    @property
    def met(self) -> bool:
        ok = self.target is None or self.seconds <= self.target
        if self.memory_target_gb is not None and self.memory_gb is not None:
            ok = ok and self.memory_gb <= self.memory_target_gb
        return ok


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """The fastest of ``repeat`` calls and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def whole_process(args: list[str]) -> tuple[float, float]:
    """Wall time and peak resident memory (GB) of one command, measured from a fresh
    intermediate process so that no earlier child counts in its peak."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "dt = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(dt, peak, rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    seconds, peak_kb, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"benchmark command failed ({rc}): {' '.join(args)}")
    return float(seconds), int(peak_kb) / 1024**2


def simulated(work: Path, vacancies: int, optional: bool = False) -> Path:
    """The bundle of ``simulate --vacancies V`` (generated once, kept in ``work``), with
    the optional tables or (default) the required tables only."""
    folder = work / f"bundle-{vacancies}{'-optional' if optional else ''}"
    if not (folder / "applications.csv").is_file():
        print(f"  generating a bundle of {vacancies:,} vacancies ...", flush=True)
        tables = "--optional-tables" if optional else "--required-tables-only"
        command = [CLI, "simulate", "--out", str(folder), "--vacancies", str(vacancies)]
        subprocess.run([*command, tables, "--force"], check=True, stdout=subprocess.DEVNULL)
    return folder


def gap_sample(folder: Path) -> tuple[Any, Any, Any]:
    """Plan, context and comparison sample of H2 (gap_difference, applied -> invited)."""
    from pilot_eval.analysis.estimators import Context
    from pilot_eval.data.bundle import load_bundle
    from pilot_eval.data.frame import analysis_frame, comparison_sample
    from pilot_eval.plan.model import load_plan

    plan = load_plan(PLAN).plan
    frame = analysis_frame(load_bundle(folder, plan), plan)
    h = next(x for x in plan.hypotheses if x.id == "H2")
    return plan, Context(plan, h), comparison_sample(frame, plan, h)


def fresh(sample: Any) -> Any:
    """The same sample without its cached cell counts, so that counting is timed too."""
    from pilot_eval.data.frame import ComparisonSample

    return ComparisonSample(sample.frame, sample.exclusions, sample.n_total)


def regression_table(sample: Any, plan: Any, h: Any) -> pd.DataFrame:
    frame = sample.frame
    return pd.DataFrame(
        {
            "vacancy": pd.factorize(frame["vacancy_id"], sort=True)[0],
            "focal": frame["focal"].to_numpy(dtype=float),
            "treated": np.asarray(frame["arm"] == plan.arm_of(h), dtype=float),
            "success": frame["success"].to_numpy(dtype=float),
        }
    )


def peer_linearmodels(table: pd.DataFrame, repeat: int) -> tuple[float, float]:
    from linearmodels.iv.absorbing import AbsorbingLS

    x = pd.DataFrame({"focal": table["focal"], "focal:arm": table["focal"] * table["treated"]})
    absorb = pd.DataFrame({"vacancy": pd.Categorical(table["vacancy"])})

    def fit() -> float:
        model = AbsorbingLS(table["success"], x, absorb=absorb)
        result = model.fit(cov_type="clustered", clusters=table["vacancy"].to_numpy())
        return float(result.params["focal:arm"])

    return best_of(repeat, fit)


def peer_pyfixest(table: pd.DataFrame, repeat: int) -> tuple[float, float] | None:
    try:
        import pyfixest
    except ImportError:
        return None

    def fit() -> float:
        model = pyfixest.feols(
            "success ~ focal + focal:treated | vacancy", data=table, vcov={"CRV1": "vacancy"}
        )
        return float(model.coef()["focal:treated"])

    fit()  # warm: pyfixest compiles its kernels on first use
    return best_of(repeat, fit)


R_SCRIPT = """
suppressMessages(library(estimatr))
d <- read.csv(commandArgs(TRUE)[1])
best <- Inf
for (i in seq_len(as.integer(commandArgs(TRUE)[2]))) {
  t <- system.time(fit <- lm_robust(success ~ focal + focal:treated, data = d,
                                    fixed_effects = ~vacancy, clusters = vacancy,
                                    se_type = "stata"))[["elapsed"]]
  best <- min(best, t)
}
cat(sprintf("%.6f %.15g\\n", best, coef(fit)[["focal:treated"]]))
"""


def peer_estimatr(table: pd.DataFrame, repeat: int) -> tuple[float, float] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    probe = subprocess.run([rscript, "-e", "library(estimatr)"], capture_output=True)
    if probe.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "gap.csv", Path(tmp) / "gap.R"
        table.to_csv(data, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            [rscript, str(script), str(data), str(max(1, min(repeat, 3)))],
            capture_output=True,
            text=True,
            check=True,
        )
    seconds, coef = out.stdout.split()
    return float(seconds), float(coef)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 1024**3:.0f} GiB"
    except (ValueError, OSError):
        memory = "?"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}; Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work")
    parser.add_argument("--repeat", type=int, default=5, help="repeats of in-process figures")
    parser.add_argument("--sims", type=int, default=500, help="simulations of diagnose")
    parser.add_argument("--skip-rijk", action="store_true", help="leave out the Rijk-wide run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    figures: list[Figure] = []
    peers: list[tuple[str, float, float, float]] = []
    print(f"machine: {machine()}\n", flush=True)

    # 1-2: in-process, 2,000 vacancies
    from pilot_eval.analysis.estimators import estimate

    plan, ctx, sample = gap_sample(simulated(args.work, 2_000))
    n_app, n_vac = len(sample.frame), sample.cells.n_vacancies
    print(f"gap_difference sample: {n_vac:,} vacancies, {n_app:,} applications", flush=True)
    seconds, ours = best_of(args.repeat, lambda: estimate("lpm_fe", fresh(sample), ctx))
    figures.append(Figure("lpm_fe gap_difference, 2,000 vacancies (in-process)", seconds, 0.05))
    table = regression_table(sample, plan, ctx.hypothesis)
    for name, result in (
        ("linearmodels AbsorbingLS", peer_linearmodels(table, max(1, args.repeat // 2))),
        ("pyfixest feols (warm)", peer_pyfixest(table, args.repeat)),
        ("R estimatr::lm_robust", peer_estimatr(table, args.repeat)),
    ):
        if result is None:
            print(f"  {name}: not installed, skipped")
            continue
        peer_seconds, coef = result
        peers.append((name, peer_seconds, coef, peer_seconds / seconds))
    seconds, ri = best_of(
        max(1, args.repeat // 2), lambda: estimate("randomisation", fresh(sample), ctx)
    )
    draws = ri.details["assignments_used"]
    figures.append(
        Figure(f"randomisation inference, {draws:,} draws, 2,000 vacancies", seconds, 1.0)
    )

    # 3-5: whole processes
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        run = [CLI, "run", str(PLAN), "--out", str(out), "--force", "--no-pdf"]
        seconds, peak = whole_process([*run, "--data", str(SHIPPED)])
        figures.append(
            Figure("example plan with report (HTML, Markdown), whole process", seconds, 10.0, peak)
        )
        if not args.skip_rijk:
            rijk = simulated(args.work, 20_000)
            seconds, peak = whole_process([*run, "--data", str(rijk)])
            apps = sum(1 for _ in (rijk / "applications.csv").open()) - 1
            figures.append(
                Figure(
                    f"Rijk-wide: 20,000 vacancies, {apps:,} applications, whole process",
                    seconds,
                    60.0,
                    peak,
                    4.0,
                )
            )
            full = simulated(args.work, 20_000, optional=True)
            seconds, peak = whole_process([*run, "--data", str(full)])
            ratings = sum(1 for _ in (full / "interview_ratings.csv").open()) - 1
            figures.append(
                Figure(
                    f"Rijk-wide with the optional tables ({ratings:,} ratings), whole process",
                    seconds,
                    None,
                    peak,
                    4.0,
                )
            )
        diagnose = [CLI, "diagnose", str(PLAN), "--data", str(SHIPPED), "--jobs", "2"]
        diagnose += ["--sims", str(args.sims), "--out", str(Path(tmp) / "diag"), "--force"]
        seconds, peak = whole_process(diagnose)
        figures.append(
            Figure(f"diagnose --sims {args.sims} --jobs 2, whole process", seconds, 60.0, peak)
        )
    seconds, _ = whole_process([CLI, "--help"])
    figures.append(Figure("pilot-eval --help (start-up and import), whole process", seconds))

    print()
    print(f"{'figure':<72} {'seconds':>8} {'target':>7} {'peak GB':>8}  result")
    for f in figures:
        target = f"{f.target:g}" if f.target is not None else "-"
        memory = f"{f.memory_gb:.2f}" if f.memory_gb is not None else "-"
        if f.memory_target_gb is not None:
            memory += f" (<= {f.memory_target_gb:g})"
        verdict = "met" if f.met else "MISSED"
        print(f"{f.name:<72} {f.seconds:>8.3f} {target:>7} {memory:>8}  {verdict}")
    print(f"\npeers on the same gap_difference (pilot-eval lpm_fe: {ours.estimate:.12f})")
    print(f"{'peer':<32} {'seconds':>8} {'x pilot-eval':>13}  estimate agrees")
    for name, peer_seconds, coef, ratio in peers:
        agrees = "yes" if abs(coef - ours.estimate) < 1e-8 else f"NO ({coef:.12f})"
        print(f"{name:<32} {peer_seconds:>8.3f} {ratio:>13.0f}  {agrees}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "figures": [f.__dict__ | {"met": f.met} for f in figures],
                    "peers": [
                        {"peer": n, "seconds": s, "estimate": c, "ratio": r} for n, s, c, r in peers
                    ],
                },
                indent=2,
            )
        )
    agree = all(abs(coef - ours.estimate) < 1e-8 for _, _, coef, _ in peers)
    return 0 if all(f.met for f in figures) and agree else 1


if __name__ == "__main__":
    sys.exit(main())
