"""Heterogeneity between vacancies: the ICC and gap-SD estimators by hand and against
pingouin's ICC(1), recovery of declared values from a simulated design, the plan's precedence over
the data, and the diagnosis flag for an inflated type-I error."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pilot_eval.analysis.evidence.quality import icc
from pilot_eval.analysis.heterogeneity import Value, anova_icc, effective, gap_sd
from pilot_eval.data.bundle import Bundle
from pilot_eval.design import diagnosis as diagnosis_module
from pilot_eval.design.diagnosis import design_from_bundle, diagnose, simulate_design
from pilot_eval.design.simulate import simulate_bundle
from pilot_eval.plan.model import AnalysisPlan, Diagnosis, check_references, load_plan

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"


@pytest.fixture(scope="module")
def plan() -> AnalysisPlan:
    return load_plan(PLAN).plan


def test_anova_icc_by_hand_with_unequal_clusters() -> None:
    # clusters {1, 2, 3}, {4, 6}, {8, 9, 10, 11}: N = 9, G = 3
    y = np.array([1, 2, 3, 4, 6, 8, 9, 10, 11], dtype=float)
    v = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    # means 2, 5, 9.5; grand mean 54/9 = 6
    # SSB = 3*16 + 2*1 + 4*12.25 = 99, MSB = 49.5
    # SSW = 2 + 2 + 5 = 9, MSW = 9/6 = 1.5
    # n0 = (9 - (9 + 4 + 16)/9) / 2 = (9 - 29/9) / 2 = 26/9
    n0 = 26 / 9
    expected = (49.5 - 1.5) / (49.5 + (n0 - 1) * 1.5)
    assert anova_icc(y, v) == pytest.approx(expected, rel=1e-12)


def test_anova_icc_equals_pingouin_icc1_when_balanced() -> None:
    rng = np.random.default_rng(4)
    v = np.repeat(np.arange(12), 5)
    y = rng.normal(size=12)[v] + rng.normal(size=v.size)
    long = pd.DataFrame({"target": v, "rater": np.tile(np.arange(5), 12), "rating": y})
    # pilot-eval's own wrapper of pingouin.intraclass_corr (the interview reliability)
    assert anova_icc(y, v) == pytest.approx(icc(long, "ICC1")["value"], rel=1e-10)


def test_anova_icc_is_zero_when_negative_and_none_without_replication() -> None:
    # identical cluster means, spread within: MSB 0 < MSW
    assert anova_icc(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0, 0, 1, 1])) == 0.0
    assert anova_icc(np.array([1.0, 2.0]), np.array([0, 1])) is None
    assert anova_icc(np.array([1.0, 2.0]), np.array([0, 0])) is None


def _dl_tau2(effects: np.ndarray, variances: np.ndarray) -> float:
    """DerSimonian-Laird by hand: (Q - (k - 1)) / (sum w - sum w^2 / sum w)."""
    w = 1 / variances
    mean = float(w @ effects / w.sum())
    q = float(w @ (effects - mean) ** 2)
    return max(0.0, (q - (len(effects) - 1)) / (w.sum() - (w @ w) / w.sum()))


def test_gap_sd_is_dersimonian_laird_with_the_documented_weights() -> None:
    rng = np.random.default_rng(8)
    rows = []
    for vacancy in range(12):
        n_f, n_r = 5 + vacancy % 4, 8 + vacancy % 5
        shift = rng.normal(0, 0.8)
        rows += [(vacancy, True, y) for y in rng.normal(shift, 1, n_f)]
        rows += [(vacancy, False, y) for y in rng.normal(0, 1, n_r)]
    frame = pd.DataFrame(rows, columns=["v", "f", "y"])
    stats = frame.groupby(["v", "f"])["y"].agg(["mean", "var", "count"]).unstack("f")
    effects = (stats[("mean", True)] - stats[("mean", False)]).to_numpy()
    variances = (
        stats[("var", True)].mean() / stats[("count", True)]
        + stats[("var", False)].mean() / stats[("count", False)]
    ).to_numpy()
    got = gap_sd(
        frame["y"].to_numpy(),
        frame["f"].to_numpy(),
        ~frame["f"].to_numpy(),
        frame["v"].to_numpy(),
        proportion=False,
    )
    assert got == pytest.approx(math.sqrt(_dl_tau2(effects, variances)), rel=1e-10)
    assert got > 0.3  # a true SD of 0.8 is seen


@pytest.mark.parametrize("true_sd", [0.0, 0.06])
def test_gap_sd_recovers_the_spread_of_a_gap_in_proportions(true_sd: float) -> None:
    rng = np.random.default_rng(11)
    estimates = []
    for _ in range(30):
        n = rng.integers(30, 150, 160)
        v = np.repeat(np.arange(160), n)
        focal = rng.random(v.size) < 0.25
        base = rng.beta(10, 10, 160)  # rates around 0.5 vary by vacancy: not a gap
        gap = -0.08 + rng.normal(0, true_sd, 160)
        y = (rng.random(v.size) < base[v] + gap[v] * focal).astype(float)
        estimates.append(gap_sd(y, focal, ~focal, v, proportion=True))
    rms = math.sqrt(np.mean(np.square(estimates)))
    # the variance is estimated without bias; its square root has a noise floor near 0.02
    assert rms == pytest.approx(true_sd, abs=0.025)


def test_gap_sd_needs_enough_vacancies() -> None:
    v = np.repeat(np.arange(4), 20)
    f = np.tile(np.arange(20) < 10, 4)
    assert gap_sd(np.ones(80), f, ~f, v, proportion=True) is None


def test_declared_heterogeneity_is_drawn_and_estimated_back(plan: AnalysisPlan) -> None:
    synthetic = simulate_bundle(seed=2, n_vacancies=240, optional=False)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    declared: dict[str, Any] = {
        "membership": {"origin": 0.06},
        "stages": {"applied->invited": 0.08},
        "scores": {"questionnaire_score": 0.1},
        "gap_sd": {"origin": {"applied->invited": 0.1}},
    }
    d = Diagnosis.model_validate({"seed": 1, "heterogeneity": declared})
    estimates: dict[str, list[float]] = {"membership": [], "stages": [], "scores": [], "gap": []}
    for i in range(4):
        sim = simulate_design(model, plan, d, True, np.random.SeedSequence(i))
        again = design_from_bundle(sim, plan, "data").estimated
        estimates["membership"].append(again.membership["origin"])
        estimates["stages"].append(again.stages["applied->invited"])
        estimates["scores"].append(again.scores["questionnaire_score"])
        estimates["gap"].append(again.gap_sd["origin"]["applied->invited"])
    assert np.mean(estimates["membership"]) == pytest.approx(0.06, abs=0.015)
    assert np.mean(estimates["stages"]) == pytest.approx(0.08, abs=0.02)
    assert np.mean(estimates["scores"]) == pytest.approx(0.1, abs=0.03)
    assert np.mean(estimates["gap"]) == pytest.approx(0.1, abs=0.03)


def test_plan_values_come_first_then_data_then_zero(plan: AnalysisPlan) -> None:
    synthetic = simulate_bundle(seed=2, n_vacancies=60, optional=False)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    d = Diagnosis.model_validate(
        {
            "seed": 1,
            "heterogeneity": {"membership": {"origin": 0.2}, "stages": {"offered->hired": 0.3}},
        }
    )
    got = effective(plan, d, model.estimated)
    assert got.membership["origin"].value == 0.2
    assert got.membership["origin"].source == "plan"
    assert got.membership["gender"].source == "data"
    assert got.stages[3] == Value(0.3, "plan")
    assert got.stages[0] is not None
    assert got.stages[0].source == "data"
    # an explicit vacancy_sd keeps the logit-normal draw where the plan gives no ICC
    explicit = effective(plan, Diagnosis(seed=1, vacancy_sd=0.5), model.estimated)
    assert explicit.stages == (None, None, None, None)
    assert explicit.vacancy_sd.source == "plan"


def test_heterogeneity_keys_are_checked(plan: AnalysisPlan) -> None:
    bad = Diagnosis.model_validate(
        {
            "seed": 1,
            "heterogeneity": {
                "membership": {"religion": 0.1},
                "stages": {"applied->hired": 0.1},
                "scores": {"typing_speed": 0.1},
                "gap_sd": {"origin": {"applied->offered": 0.1}, "class": {}},
            },
        }
    )
    problems = check_references(plan.model_copy(update={"diagnosis": bad}))
    columns = {p.column for p in problems}
    assert {
        "diagnosis.heterogeneity.membership.religion",
        "diagnosis.heterogeneity.stages.applied->hired",
        "diagnosis.heterogeneity.scores.typing_speed",
        "diagnosis.heterogeneity.gap_sd.origin.applied->offered",
        "diagnosis.heterogeneity.gap_sd.class",
    } <= columns
    with pytest.raises(ValueError, match="less than 1"):
        Diagnosis.model_validate({"seed": 1, "heterogeneity": {"membership": {"origin": 1.0}}})


def test_diagnosis_flags_a_test_that_rejects_too_often(
    plan: AnalysisPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic = simulate_bundle(seed=2, n_vacancies=30, optional=False)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    n = len(plan.hypotheses)

    def runs(*_: Any, **__: Any) -> dict[str, list[list[tuple[Any, ...]]]]:
        # under no effect the first hypothesis rejects in 8 of 100 runs (> 7.5%), the
        # second in 7 (below 1.5 alpha), the rest never
        null = []
        for i in range(100):
            row = [(0.0, -1.0, 1.0, 0.5, 0.5, "inconclusive")] * n
            if i < 8:
                row[0] = (0.1, 0.01, 0.2, 0.01, 0.01, "met")
            if i < 7:
                row[1] = (0.1, 0.01, 0.2, 0.01, 0.01, "met")
            null.append(row)
        return {"declared": null, "null": null}

    monkeypatch.setattr(diagnosis_module, "simulate_runs", runs)
    got = diagnose(plan, model, 100)
    assert got["type_i_limit"] == pytest.approx(0.075)
    assert got["type_i_inflated"] == [plan.hypotheses[0].id]
    first = got["hypotheses"][0]["null"]
    assert first["type_i_error"] == 0.08
    assert first["type_i_error_mcse"] == pytest.approx(math.sqrt(0.08 * 0.92 / 100))
    assert got["hypotheses"][1]["null"]["type_i_inflated"] is False
    kinds = {row["kind"] for row in got["heterogeneity"]}
    assert kinds == {"membership", "stages", "scores", "gap_sd", "score_gap_sd"}


def test_synthetic_bundles_can_have_gaps_that_vary_by_vacancy(plan: AnalysisPlan) -> None:
    plain = simulate_bundle(seed=6, n_vacancies=240, optional=False)
    varying = simulate_bundle(seed=6, n_vacancies=240, optional=False, gap_sd=0.08)
    assert varying.truth["gap_sd_across_vacancies"] == 0.08
    assert "gap_sd_across_vacancies" not in plain.truth
    estimated = [
        design_from_bundle(
            Bundle(Path("."), {}, b.vacancies, b.applications), plan, "simulate"
        ).estimated.gap_sd["origin"]["applied->invited"]
        for b in (plain, varying)
    ]
    assert estimated[0] < 0.04
    assert estimated[1] == pytest.approx(0.08, abs=0.03)


def test_a_gap_that_varies_by_vacancy_has_mean_zero_under_no_effect(plan: AnalysisPlan) -> None:
    import dataclasses

    synthetic = simulate_bundle(seed=2, n_vacancies=240, optional=False)
    model = design_from_bundle(
        Bundle(Path("."), {}, synthetic.vacancies, synthetic.applications), plan, "simulate"
    )
    # a low invitation rate: a deviation added to the probability would be clipped at 0.01
    low = dataclasses.replace(model, base_rates=(0.05, *model.base_rates[1:]))
    d = Diagnosis.model_validate(
        {
            "seed": 1,
            "heterogeneity": {
                "gap_sd": {"origin": {"applied->invited": 0.1}},
                "stages": {"applied->invited": 0.0},
            },
        }
    )
    gaps = []
    for i in range(6):
        sim = simulate_design(low, plan, d, True, np.random.SeedSequence(100 + i))
        apps = sim.applications
        invited = (apps["stage_reached"].cat.codes >= 1).to_numpy()
        origin = apps["origin"].astype("string")
        gaps.append(
            invited[(origin == "outside_europe").fillna(False).to_numpy(bool)].mean()
            - invited[(origin == "netherlands").fillna(False).to_numpy(bool)].mean()
        )
    # about 24,000 applications each: the SE of the mean of six gaps is about 0.002
    assert float(np.mean(gaps)) == pytest.approx(0.0, abs=0.006)
