"""Design diagnosis: diagnosands by hand, the simulated design, identical results for any
number of workers (processes, a Dask cluster), and the command."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pilot_eval.cli import main
from pilot_eval.data.bundle import Bundle
from pilot_eval.design.diagnosis import (
    DesignModel,
    design_from_bundle,
    diagnosands,
    diagnose,
    simulate_design,
    simulate_runs,
    true_value,
)
from pilot_eval.design.simulate import simulate_bundle
from pilot_eval.plan.model import AnalysisPlan, Diagnosis, check_references, load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture(scope="module")
def plan() -> AnalysisPlan:
    return load_plan(PLAN).plan


@pytest.fixture(scope="module")
def small_model(plan: AnalysisPlan) -> DesignModel:
    synthetic = simulate_bundle(seed=3, n_vacancies=30)
    bundle = Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications)
    return design_from_bundle(bundle, plan, "simulate")


def test_diagnosands_by_hand() -> None:
    # five runs: (estimate, ci_low, ci_high, p, p_adjusted, verdict); truth 0.1, null 0
    runs = [
        (0.20, 0.05, 0.35, 0.01, 0.02, "met"),
        (0.05, -0.10, 0.20, 0.30, 0.60, "inconclusive"),
        (-0.15, -0.28, -0.02, 0.02, 0.04, "not_met"),
        (0.10, -0.05, 0.25, 0.20, 0.40, "inconclusive"),
        (None, None, None, None, None, "not_estimable"),
    ]
    got = diagnosands(runs, 0.1, 0.0, 0.05)
    assert got["runs"] == 5
    assert got["estimable"] == 4
    # significant after adjustment: runs 1 and 3 -> power 2/4, MCSE sqrt(.5*.5/4)
    assert got["power"] == 0.5
    assert got["power_mcse"] == pytest.approx(math.sqrt(0.25 / 4))
    assert got["power_unadjusted"] == 0.5
    assert got["criterion_met"] == 0.25
    # errors 0.1, -0.05, -0.25, 0: bias -0.05, MSE (0.01+0.0025+0.0625+0)/4 = 0.01875
    assert got["bias"] == pytest.approx(-0.05)
    assert got["bias_mcse"] == pytest.approx(np.std([0.1, -0.05, -0.25, 0.0], ddof=1) / 2)
    assert got["rmse"] == pytest.approx(math.sqrt(0.01875))
    # intervals containing 0.1: runs 1, 2 and 4
    assert got["coverage"] == 0.75
    # significant: 0.20 (right sign) and -0.15 (wrong sign)
    assert got["type_s"] == 0.5
    # |0.20|/0.1 = 2 and |-0.15|/0.1 = 1.5
    assert got["exaggeration"] == pytest.approx(1.75)


def test_type_s_and_exaggeration_undefined_without_an_effect() -> None:
    runs = [(0.01, -0.1, 0.1, 0.01, 0.01, "met")] * 3
    got = diagnosands(runs, 0.0, 0.0, 0.05)
    assert got["type_s"] is None
    assert got["exaggeration"] is None
    assert got["coverage"] == 1.0


def test_true_values_follow_from_the_declared_effects(
    plan: AnalysisPlan, small_model: DesignModel
) -> None:
    d = plan.diagnosis
    assert d is not None
    by_id = {h.id: h for h in plan.hypotheses}
    assert true_value(by_id["H1"], plan, d, small_model) == pytest.approx(0.03)
    # H2: gap in the pilot minus gap in control, -0.01 - (-0.08)
    assert true_value(by_id["H2"], plan, d, small_model) == pytest.approx(0.07)
    assert true_value(by_id["H3"], plan, d, small_model) == pytest.approx(0.04)
    # H4 reports a Mantel-Haenszel odds ratio but is decided by the within-vacancy
    # difference (lpm_cr2), whose true value is the declared gap in control
    assert true_value(by_id["H4"], plan, d, small_model) == pytest.approx(-0.08)
    # H5: (r - 0.01) / r with r the mean reference rate over vacancies
    ratio = true_value(by_id["H5"], plan, d, small_model)
    assert ratio is not None
    assert 0.9 < ratio < 1.0
    assert true_value(by_id["H8"], plan, d, small_model) == 0.0


def test_simulated_design_keeps_blocks_and_moves_the_share(plan: AnalysisPlan) -> None:
    synthetic = simulate_bundle(seed=5, n_vacancies=240)
    bundle = Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications)
    model = design_from_bundle(bundle, plan, "simulate")
    d = Diagnosis(seed=1, pool_share={"origin": {"pilot": 0.10}})
    sim = simulate_design(model, plan, d, False, np.random.SeedSequence(9))
    vac = sim.vacancies
    # complete randomisation within blocks keeps each block's number of pilot vacancies
    before = synthetic.vacancies.groupby("block")["arm"].apply(lambda a: (a == "pilot").sum())
    after = vac.groupby("block")["arm"].apply(lambda a: (a == "pilot").sum())
    assert before.equals(after)
    assert not vac["arm"].equals(synthetic.vacancies["arm"])  # but re-drawn
    apps = sim.applications.merge(vac[["vacancy_id", "arm"]], on="vacancy_id")
    known = apps[apps["origin"].notna()]
    share = known.groupby("arm")["origin"].apply(lambda o: (o == "outside_europe").mean())
    # 0.10 more in the pilot; about 9,000 known pilot applications: SE about 0.005
    assert share["pilot"] - share["control"] == pytest.approx(0.10, abs=0.025)
    assert len(apps) == len(synthetic.applications)


def test_results_do_not_depend_on_the_workers(plan: AnalysisPlan, small_model: DesignModel) -> None:
    d = plan.diagnosis
    assert d is not None
    one = simulate_runs(small_model, plan, d, 6, jobs=1)
    two = simulate_runs(small_model, plan, d, 6, jobs=2)
    assert one == two
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        dask = simulate_runs(small_model, plan, d, 6, scheduler=cluster.scheduler_address)
    assert dask == one


def test_diagnosis_summary(plan: AnalysisPlan, small_model: DesignModel) -> None:
    got = diagnose(plan, small_model, 4)
    assert got["warning"] is not None  # fewer than 30 runs
    assert [h["id"] for h in got["hypotheses"]] == [h.id for h in plan.hypotheses]
    for h in got["hypotheses"]:
        assert h["declared"]["runs"] == 4
        assert h["null"]["runs"] == 4
        assert "type_i_error" in h["null"]


def test_diagnosis_references_are_checked(plan: AnalysisPlan) -> None:
    bad = Diagnosis.model_validate(
        {
            "seed": 1,
            "pool_share": {"religion": {"pilot": 0.1}},
            "gaps": [
                {
                    "group": "origin",
                    "stage": {"from": "applied", "to": "offered"},
                    "by_arm": {"treatment": 0.1},
                }
            ],
        }
    )
    problems = check_references(plan.model_copy(update={"diagnosis": bad}))
    rules = {(p.column, p.rule) for p in problems}
    assert ("diagnosis.pool_share.religion", "no such group") in rules
    assert ("diagnosis.gaps[0].by_arm.treatment", "no such arm") in rules
    assert (
        "diagnosis.gaps[0].stage",
        "a diagnosis gap is one transition between adjacent stages",
    ) in rules


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_command_writes_the_diagnosis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["diagnose", str(PLAN), "--simulate", "--vacancies", "30", "--sims", "3"]
    code, out, err = _cli([*args, "--out", "diag", "--lang", "en"], capsys)
    assert code == 0, err
    assert "fewer than 30 simulations" in err
    assert "H1" in out
    result = json.loads((tmp_path / "diag" / "diagnosis.json").read_text(encoding="utf-8"))
    assert result["sims"] == 3
    assert result["plan"]["locked"] is True
    report = (tmp_path / "diag" / "diagnosis.en.md").read_text(encoding="utf-8")
    assert "# Design diagnosis" in report
    code, _, err = _cli(["diagnose", str(PLAN), "--sims", "3", "--out", "x"], capsys)
    assert code == 2
    assert "--data DIR or --simulate" in err
    code, _, err = _cli([*args, "--out", "diag"], capsys)
    assert code == 2  # exists without --force
    nl = _cli([*args, "--out", "diag-nl"], capsys)
    assert nl[0] == 0
    text = (tmp_path / "diag-nl" / "diagnosis.nl.md").read_text(encoding="utf-8")
    assert "# Onderscheidend vermogen" in text


@pytest.mark.slow
def test_no_effect_rejects_at_alpha_and_intervals_cover(plan: AnalysisPlan) -> None:
    synthetic = simulate_bundle(seed=11, n_vacancies=240)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    # 1,000 runs under the null: Monte Carlo SE of a rate near 0.05 is about 0.007. Sixteen
    # checks at three SEs each would fail a correct implementation about 4% of the time;
    # the seeds are fixed, so the outcome is the same on every machine.
    sims = 1000
    got = diagnose(plan, model, sims, jobs=2)
    for h in got["hypotheses"]:
        null = h["null"]
        # within three Monte Carlo standard errors of alpha and of 0.95
        se_alpha = math.sqrt(0.05 * 0.95 / null["estimable"])
        assert abs(null["type_i_error"] - 0.05) < 3 * se_alpha, h["id"]
        assert abs(null["coverage"] - 0.95) < 3 * se_alpha, h["id"]
