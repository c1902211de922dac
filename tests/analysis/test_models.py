"""logit against R (glm + sandwich::vcovCL) and hedges_g against hand calculations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats as scipy_stats

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.plan.model import AnalysisPlan, Hypothesis

DATA = Path(__file__).resolve().parents[1] / "reference" / "lpm_small.csv"
STAGE = {"from": "applied", "to": "invited"}


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    d = pd.read_csv(DATA)
    return d.assign(focal=d["focal"].astype(bool), success=d["success"].astype(bool))


def _sample(frame: pd.DataFrame) -> ComparisonSample:
    return ComparisonSample(frame=frame.reset_index(drop=True), exclusions=(), n_total=len(frame))


def _ctx(plan: AnalysisPlan, **kw: object) -> Context:
    base: dict[str, object] = {"id": "T", "family": "primary", "group": "origin"}
    return Context(plan, Hypothesis.model_validate({**base, **kw}))


@pytest.mark.parametrize(
    ("label", "kind", "subset", "extra", "log_or", "se"),
    [
        # R: tests/reference/logit_small.R (glm, vcovCL type = "HC1", cadjust = TRUE)
        ("stage_gap", "stage_gap", "control", {"arm": "control", "stage": STAGE},
         -0.880888804823346, 0.386108805264011),
        ("gap_difference", "gap_difference", None, {"arm": "pilot", "stage": STAGE},
         1.31393672754656, 0.437627510755206),
        ("pool_share", "pool_share", None, {"arm": "pilot", "adjust_for": ["family", "scale"]},
         0.0014380504449877, 0.139819372043985),
    ],
)  # fmt: skip
def test_logit_matches_r(
    small: pd.DataFrame,
    plan: AnalysisPlan,
    label: str,
    kind: str,
    subset: str | None,
    extra: dict[str, object],
    log_or: float,
    se: float,
) -> None:
    frame = small if subset is None else small[small["arm"] == subset]
    e = estimate("logit", _sample(frame), _ctx(plan, kind=kind, **extra))
    assert e.details["log_odds_ratio"] == pytest.approx(log_or, rel=1e-7), label
    assert e.estimate == pytest.approx(math.exp(log_or), rel=1e-7)
    assert e.std_error == pytest.approx(se, rel=1e-6)
    assert e.scale == "odds_ratio"


@pytest.mark.parametrize(
    ("kind", "extra", "target"),
    [
        ("stage_gap", {"arm": "control", "stage": STAGE}, "focal"),
        ("gap_difference", {"arm": "pilot", "stage": STAGE}, "focal:arm"),
        ("pool_share", {"arm": "pilot", "adjust_for": ["family", "scale"]}, "arm"),
    ],
)
def test_logit_on_cells_equals_logit_on_applications(
    plan: AnalysisPlan, kind: str, extra: dict[str, object], target: str
) -> None:
    """The binomial cells give statsmodels' Logit on every application (1e-8), with the
    same CR1 clustered standard error."""
    from statsmodels.discrete.discrete_model import Logit

    rng = np.random.default_rng(31)
    n_vac, rows = 60, []
    for g in range(n_vac):
        arm = "pilot" if g % 2 else "control"
        lift = rng.normal(0, 0.5)
        for _ in range(int(rng.integers(5, 40))):
            focal = bool(rng.random() < 0.3 + 0.1 * (arm == "pilot"))
            p = 1 / (1 + math.exp(-(lift - 0.7 * focal + 0.5 * focal * (arm == "pilot"))))
            rows.append(
                {
                    "vacancy_id": f"V{g:02d}",
                    "arm": arm,
                    "family": "abc"[g % 3],
                    "scale": 8 + g % 4,
                    "focal": focal,
                    "success": bool(rng.random() < p),
                }
            )
    frame = pd.DataFrame(rows)
    if kind == "stage_gap":
        frame = frame[frame["arm"] == "control"]
    e = estimate("logit", _sample(frame), _ctx(plan, kind=kind, **extra))
    frame = frame.reset_index(drop=True)
    x = pd.DataFrame({"const": 1.0}, index=frame.index)
    treated = (frame["arm"] == "pilot").astype(float)
    if kind == "pool_share":
        y = frame["focal"].astype(float)
        x["arm"] = treated
        x = x.join(pd.get_dummies(frame["family"], prefix="family", drop_first=True, dtype=float))
        x["scale"] = frame["scale"].astype(float)
    else:
        y = frame["success"].astype(float)
        x["focal"] = frame["focal"].astype(float)
        if kind == "gap_difference":
            x["arm"] = treated
            x["focal:arm"] = x["focal"] * treated
    groups = pd.factorize(frame["vacancy_id"])[0]
    fit = Logit(y, x).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    assert e.details["log_odds_ratio"] == pytest.approx(fit.params[target], rel=1e-8)
    assert e.std_error == pytest.approx(fit.bse[target], rel=1e-8)


def test_logit_with_tiny_fitted_probabilities_is_estimated(plan: AnalysisPlan) -> None:
    """A covariate with a wide range gives fitted probabilities near 1e-12 without any
    separation; Logit on the applications converges, and so must the cells."""
    from statsmodels.discrete.discrete_model import Logit

    rng = np.random.default_rng(3)
    rows = []
    for g in range(60):
        arm = "pilot" if g % 2 else "control"
        p = 1 / (1 + math.exp(-(3 - 0.5 * g + 0.3 * (arm == "pilot"))))
        for _ in range(30):
            rows.append(
                {"vacancy_id": f"V{g:02d}", "arm": arm, "x": float(g), "focal": rng.random() < p}
            )
    frame = pd.DataFrame(rows)
    ctx = _ctx(plan, kind="pool_share", arm="pilot", adjust_for=["x"])
    e = estimate("logit", _sample(frame), ctx)
    x = pd.DataFrame(
        {"const": 1.0, "arm": (frame["arm"] == "pilot").astype(float), "x": frame["x"]}
    )
    groups = pd.factorize(frame["vacancy_id"])[0]
    fit = Logit(frame["focal"].astype(float), x).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": groups}
    )
    assert fit.predict().min() < 1e-10
    assert e.details["log_odds_ratio"] == pytest.approx(fit.params["arm"], rel=1e-8)
    assert e.std_error == pytest.approx(fit.bse["arm"], rel=1e-8)


def test_logit_perfect_separation_is_not_estimable(plan: AnalysisPlan) -> None:
    frame = pd.DataFrame(
        {
            "vacancy_id": ["V1", "V1", "V2", "V2"] * 5,
            "focal": [True, False] * 10,
            "success": [True, False] * 10,
            "arm": "control",
        }
    )
    e = estimate("logit", _sample(frame), _ctx(plan, kind="stage_gap", arm="control", stage=STAGE))
    assert not e.estimable
    assert e.reason is not None


def test_hedges_g_by_hand_and_against_pingouin(plan: AnalysisPlan) -> None:
    rng = np.random.default_rng(3)
    x1 = np.round(rng.normal(60, 10, 25), 1)
    x0 = np.round(rng.normal(64, 12, 40), 1)
    frame = pd.DataFrame(
        {
            "vacancy_id": [f"V{i % 4}" for i in range(65)],
            "arm": "pilot",
            "focal": [True] * 25 + [False] * 40,
            "questionnaire_score": np.concatenate([x1, x0]),
        }
    )
    ctx = _ctx(plan, kind="score_gap", arm="pilot", score="questionnaire_score")
    e = estimate("hedges_g", _sample(frame), ctx)
    n1, n0 = 25, 40
    sp = math.sqrt(((n1 - 1) * x1.var(ddof=1) + (n0 - 1) * x0.var(ddof=1)) / (n1 + n0 - 2))
    d = (x1.mean() - x0.mean()) / sp
    j = 1 - 3 / (4 * (n1 + n0) - 9)  # Hedges & Olkin (1985) correction
    assert e.estimate == pytest.approx(d * j, rel=1e-12)
    # pingouin's hedges g uses the exact gamma-function correction; agree to 1e-4
    assert e.estimate == pytest.approx(pg.compute_effsize(x1, x0, eftype="hedges"), abs=1e-4)
    # variance of g by hand: n/(n1 n0) + g^2 / (2 (n - 3.94)), the approximation of
    # Hedges & Olkin (1985, ch. 5) used by statsmodels; Borenstein et al. (2009, eq. 4.20,
    # 4.24) give J^2 (n/(n1 n0) + d^2 / (2 n)), within 2% here
    g, n = d * j, n1 + n0
    assert e.std_error == pytest.approx(math.sqrt(n / (n1 * n0) + g**2 / (2 * (n - 3.94))))
    borenstein = math.sqrt(j**2 * (n / (n1 * n0) + d**2 / (2 * n)))
    assert e.std_error == pytest.approx(borenstein, rel=0.02)
    # Student's t with pooled variance
    t = (x1.mean() - x0.mean()) / (sp * math.sqrt(1 / n1 + 1 / n0))
    assert e.statistic == pytest.approx(t, rel=1e-12)
    assert e.df == n1 + n0 - 2


def test_hedges_g_not_estimable_without_scores(plan: AnalysisPlan) -> None:
    frame = pd.DataFrame(
        {
            "vacancy_id": "V1",
            "arm": "pilot",
            "focal": [True, False, False],
            "questionnaire_score": 5.0,
        }
    )
    ctx = _ctx(plan, kind="score_gap", arm="pilot", score="questionnaire_score")
    e = estimate("hedges_g", _sample(frame), ctx)
    assert e.reason is not None


def test_score_gap_difference_between_arms(plan: AnalysisPlan) -> None:
    from pilot_eval.analysis.hypotheses import analyse, score_gap_by_arm
    from pilot_eval.data.bundle import load_bundle
    from pilot_eval.data.frame import analysis_frame

    root = Path(__file__).resolve().parents[2]
    frame = analysis_frame(load_bundle(root / "data" / "synthetic", plan), plan)
    h = Hypothesis.model_validate(
        {
            "id": "S",
            "family": "secondary",
            "group": "origin",
            "kind": "score_gap",
            "arm": "pilot",
            "score": "interview_score",
        }
    )
    out = score_gap_by_arm(frame, plan, analyse(frame, plan, h).hypothesis)
    pilot, control = out["per_arm"]["pilot"], out["per_arm"]["control"]
    # each arm's g with the clustered (CR2, Bell-McCaffrey) test; its group sizes beside it
    assert pilot["estimator"] == control["estimator"] == "hedges_g_cr2"
    assert pilot["n_focal"] + pilot["n_reference"] == pilot["n_applications"]
    diff = out["difference_between_arms"]
    # independent samples: difference of the two g's, SE and Welch-Satterthwaite df by hand
    assert diff["estimate"] == pytest.approx(pilot["estimate"] - control["estimate"])
    v1, v0 = pilot["std_error"] ** 2, control["std_error"] ** 2
    assert diff["std_error"] == pytest.approx(math.sqrt(v1 + v0))
    df = (v1 + v0) ** 2 / (v1**2 / pilot["df"] + v0**2 / control["df"])
    assert diff["df"] == pytest.approx(df)
    half = float(scipy_stats.t.ppf(0.975, df)) * math.sqrt(v1 + v0)
    assert diff["ci_high"] - diff["ci_low"] == pytest.approx(2 * half)


def test_the_difference_of_independent_estimates_is_welchs_test() -> None:
    """Two means with their standard errors s^2/n and n - 1 degrees of freedom: the
    difference is Welch's unequal-variance t-test (scipy's ttest_ind, equal_var=False;
    the interval from statsmodels' CompareMeans, usevar='unequal')."""
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    from pilot_eval.analysis.hypotheses import difference_of_independent

    a = np.array([5.1, 4.8, 6.2, 5.9, 5.5, 6.8, 4.9, 5.7])
    b = np.array([4.2, 4.9, 3.8, 5.1, 4.4, 3.9, 4.6, 5.0, 4.1, 4.7, 3.6, 4.8, 5.2])
    one = (float(a.mean()), float(a.std(ddof=1) / math.sqrt(len(a))), len(a) - 1.0)
    other = (float(b.mean()), float(b.std(ddof=1) / math.sqrt(len(b))), len(b) - 1.0)
    got = difference_of_independent(one, other, 0.05)
    welch = scipy_stats.ttest_ind(a, b, equal_var=False)
    assert got["statistic"] == pytest.approx(welch.statistic, rel=1e-12)
    assert got["p_value"] == pytest.approx(welch.pvalue, rel=1e-10)
    low, high = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(usevar="unequal")
    assert (got["ci_low"], got["ci_high"]) == (pytest.approx(low), pytest.approx(high))


def test_logit_quasi_separation_is_not_estimable_and_the_run_goes_on(plan: AnalysisPlan) -> None:
    """0 offers among 13 focal applicants in 12 vacancies: the maximum-likelihood odds ratio
    is 0, and the fit would stop at a coefficient near -30 with a meaningless standard
    error (p = 1e-16), as Mantel-Haenszel refuses to report it."""
    from tests.samples import sample_from_tables

    counts = [(2, 3), (1, 5), (1, 1), (1, 4), (1, 2), (1, 5)] * 2
    tables = [(f"V{v}", 0, n1, c, 10) for v, (n1, c) in enumerate(counts)]
    sample = sample_from_tables(tables)
    ctx = _ctx(plan, kind="stage_gap", arm="control", stage=STAGE, alternative="two-sided")
    e = estimate("logit", sample, ctx)
    assert not e.estimable
    assert e.reason is not None
    assert e.reason.startswith("quasi-separation")
    assert estimate("lpm_fe", sample, ctx).estimable
