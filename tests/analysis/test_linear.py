"""lpm_fe against R (sandwich::vcovCL) and against statsmodels OLS with dummy variables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.estimators.linear import cluster_ols, demean
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.plan.model import AnalysisPlan, Hypothesis

DATA = Path(__file__).resolve().parents[1] / "reference" / "lpm_small.csv"


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    d = pd.read_csv(DATA)
    d["focal"] = d["focal"].astype(bool)
    d["success"] = d["success"].astype(bool)
    return d


def _sample(frame: pd.DataFrame) -> ComparisonSample:
    return ComparisonSample(frame=frame.reset_index(drop=True), exclusions=(), n_total=len(frame))


def _h(**kw: object) -> Hypothesis:
    base: dict[str, object] = {"id": "T", "family": "primary", "group": "origin"}
    return Hypothesis.model_validate({**base, **kw})


def _plan(plan: AnalysisPlan, block: str | None) -> AnalysisPlan:
    design = plan.design.model_copy(update={"block": block})
    return plan.model_copy(update={"design": design})


STAGE = {"from": "applied", "to": "invited"}


def test_stage_gap_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    e = estimate("lpm_fe", _sample(small[small["arm"] == "control"]), Context(plan, h))
    # R: tests/reference/lpm_small.R, "stage_gap_control" (sandwich::vcovCL, HC1, K = 1)
    assert e.estimate == pytest.approx(-0.151577058528876, rel=1e-10)
    assert e.std_error == pytest.approx(0.0733792523211405, rel=1e-10)
    # estimatr::lm_robust(se_type = "stata") gives the same estimate and df = G - 1 = 4
    assert e.df == 4
    assert e.details["K"] == 1


def test_gap_difference_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="gap_difference", arm="pilot", stage=STAGE)
    e = estimate("lpm_fe", _sample(small), Context(plan, h))
    # R: tests/reference/lpm_small.R, "gap_difference" (K = 2)
    assert e.estimate == pytest.approx(0.252691751715041, rel=1e-10)
    assert e.std_error == pytest.approx(0.0897122195861094, rel=1e-10)
    assert (e.n_vacancies, e.n_applications, e.df) == (10, 214, 9)


def test_pool_share_with_block_effects_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    frame = small.rename(columns={"block": "blk"})
    h = _h(kind="pool_share", arm="pilot")
    e = estimate("lpm_fe", _sample(frame), Context(_plan(plan, "blk"), h))
    # R: tests/reference/lpm_small.R, "pool_share_block" (clustered by block, K = 1)
    assert e.estimate == pytest.approx(0.000213885406963798, rel=1e-8)
    assert e.std_error == pytest.approx(0.037377389938679, rel=1e-10)
    assert (e.df, e.details["G"], e.details["clusters"]) == (4, 5, "blk")


def test_pool_share_with_covariates_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="pool_share", arm="pilot", adjust_for=["family", "scale"])
    e = estimate("lpm_fe", _sample(small), Context(_plan(plan, None), h))
    # R: tests/reference/lpm_small.R, "pool_share_adjusted"
    assert e.estimate == pytest.approx(0.000499060419288176, rel=1e-8)
    assert e.std_error == pytest.approx(0.0331384729361484, rel=1e-10)


def test_collinear_covariates_are_dropped(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    # family is constant within each block pair here? Use a copy of block as covariate:
    # it is fully absorbed by the block effects and must be dropped, not break the fit.
    frame = small.assign(block_copy=small["block"])
    h = _h(kind="pool_share", arm="pilot", adjust_for=["block_copy"])
    e = estimate("lpm_fe", _sample(frame), Context(_plan(plan, "block"), h))
    assert e.estimable
    assert len(e.details["collinear_dropped"]) == 4  # five blocks, four indicators


@pytest.mark.parametrize("seed", range(5))
def test_within_fit_equals_statsmodels_dummy_regression(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, g = 400, 25
    d = pd.DataFrame(
        {
            "vac": rng.integers(0, g, n),
            "focal": rng.random(n) < 0.3,
        }
    )
    d["treated"] = (d["vac"] % 2).astype(float)
    d["ft"] = d["focal"] * d["treated"]
    d["y"] = (rng.random(n) < 0.3 + 0.1 * d["focal"]).astype(float)
    codes = d["vac"].to_numpy()
    x = d[["focal", "ft"]].to_numpy(dtype=float)
    ones = np.ones(n)
    fit = cluster_ols(
        demean(d["y"].to_numpy(), codes, g, ones), demean(x, codes, g, ones), codes, g, 0
    )
    ref = smf.ols("y ~ focal + ft + C(vac)", data=d.assign(focal=d["focal"].astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": codes}
    )
    np.testing.assert_allclose(fit.coef, ref.params[["focal", "ft"]], rtol=1e-10)
    # statsmodels counts the g vacancy dummies in K; rescale its factor to K = 2 (nested)
    k_sm = ref.df_model + 1
    rescale = (n - k_sm) / (n - 2)
    se_sm = np.sqrt(np.diag(ref.cov_params().loc[["focal", "ft"], ["focal", "ft"]]) * rescale)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), se_sm, rtol=1e-10)


def test_not_estimable_cases(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    one = small[small["vacancy_id"] == "V00"]
    e = estimate("lpm_fe", _sample(one), Context(plan, h))
    assert e.reason is not None
    assert "fewer than two vacancies" in e.reason
    only_ref = small[(small["arm"] == "control") & ~small["focal"]]
    e = estimate("lpm_fe", _sample(only_ref), Context(plan, h))
    assert e.reason is not None
    assert "both groups" in e.reason
    hg = _h(kind="gap_difference", arm="pilot", stage=STAGE)
    e = estimate("lpm_fe", _sample(small[small["arm"] == "control"]), Context(plan, hg))
    assert e.reason is not None
    assert "only one arm" in e.reason


def _weighted(small: pd.DataFrame) -> pd.DataFrame:
    number = small["vacancy_id"].str[1:].astype(int)
    return small.assign(weight=(1 + number % 3).astype(float))


def test_weighted_stage_gap_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    frame = _weighted(small)
    e = estimate("lpm_fe", _sample(frame[frame["arm"] == "control"]), Context(plan, h))
    # R: tests/reference/lpm_small.R, "weighted_stage_gap_control" (lm weights, vcovCL HC1)
    assert e.estimate == pytest.approx(-0.193774592991528, rel=1e-10)
    assert e.std_error == pytest.approx(0.0862113316035252, rel=1e-10)


def test_weighted_pool_share_matches_r(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="pool_share", arm="pilot")
    frame = _weighted(small).rename(columns={"block": "blk"})
    e = estimate("lpm_fe", _sample(frame), Context(_plan(plan, "blk"), h))
    # R: tests/reference/lpm_small.R, "weighted_pool_share_block"
    assert e.estimate == pytest.approx(0.00723093166413711, rel=1e-8)
    assert e.std_error == pytest.approx(0.0334512537282961, rel=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_cell_path_equals_application_regression(seed: int, plan: AnalysisPlan) -> None:
    """lpm_fe on per-vacancy cell counts equals OLS with vacancy dummies on the applications."""
    rng = np.random.default_rng(100 + seed)
    n, g = 600, 30
    d = pd.DataFrame({"vac": rng.integers(0, g, n), "focal": rng.random(n) < 0.4})
    d["vacancy_id"] = "V" + d["vac"].astype(str).str.zfill(2)
    d["arm"] = np.where(d["vac"] % 2 == 1, "pilot", "control")
    d["success"] = rng.random(n) < 0.3 + 0.1 * d["focal"]
    h = _h(kind="gap_difference", arm="pilot", stage=STAGE)
    e = estimate("lpm_fe", _sample(d[["vacancy_id", "arm", "focal", "success"]]), Context(plan, h))
    x = d.assign(
        y=d["success"].astype(float),
        f=d["focal"].astype(float),
        ft=d["focal"] * (d["arm"] == "pilot"),
    )
    ref = smf.ols("y ~ f + ft + C(vac)", data=x.assign(ft=x["ft"].astype(float))).fit(
        cov_type="cluster", cov_kwds={"groups": d["vac"].to_numpy()}
    )
    rescale = (n - (ref.df_model + 1)) / (n - 2)  # vacancy effects are nested: K = 2
    assert e.estimate == pytest.approx(ref.params["ft"], rel=1e-10)
    assert e.std_error == pytest.approx(
        np.sqrt(ref.cov_params().loc["ft", "ft"] * rescale), rel=1e-10
    )


def _random_applications(seed: int, n: int = 800, g: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(200 + seed)
    d = pd.DataFrame({"vac": rng.integers(0, g, n), "focal": rng.random(n) < 0.4})
    d["vacancy_id"] = "V" + d["vac"].astype(str).str.zfill(2)
    d["arm"] = np.where(d["vac"] % 2 == 1, "pilot", "control")
    d["success"] = rng.random(n) < 0.25 + 0.1 * d["focal"] + 0.2 * (d["vac"] % 3 == 0)
    return d


@pytest.mark.parametrize("seed", range(3))
def test_mantel_haenszel_cells_equal_tables_of_the_applications(
    seed: int, plan: AnalysisPlan
) -> None:
    """mantel_haenszel on the cell counts equals statsmodels' StratifiedTable on 2x2 tables
    counted from the applications with pandas (1e-10)."""
    from statsmodels.stats.contingency_tables import StratifiedTable

    d = _random_applications(seed)
    d = d[d["arm"] == "control"]
    h = _h(kind="stage_gap", arm="control", stage=STAGE, alternative="two-sided")
    e = estimate("mantel_haenszel", _sample(d), Context(plan, h))
    tables = []
    for _, rows in d.groupby("vac"):
        t = pd.crosstab(rows["focal"], rows["success"]).reindex(
            index=[True, False], columns=[True, False], fill_value=0
        )
        if (t.sum(axis=1) > 0).all():
            tables.append(t.to_numpy(dtype=float))
    st = StratifiedTable(tables)
    low, high = st.oddsratio_pooled_confint(alpha=0.05)
    null = st.test_null_odds(correction=False)
    assert e.estimate == pytest.approx(st.oddsratio_pooled, rel=1e-10)
    assert (e.ci_low, e.ci_high) == pytest.approx((low, high), rel=1e-10)
    assert e.statistic == pytest.approx(null.statistic, rel=1e-10)
    assert e.p_value == pytest.approx(null.pvalue, rel=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_difference_pooled_cells_equal_saturated_regression(seed: int, plan: AnalysisPlan) -> None:
    """difference_pooled on the cell counts equals the interaction of a saturated OLS on the
    applications, with HC0 errors (each cell's p(1-p)/n) (1e-10)."""
    d = _random_applications(seed)
    h = _h(kind="gap_difference", arm="pilot", stage=STAGE, alternative="two-sided")
    e = estimate("difference_pooled", _sample(d), Context(plan, h))
    x = d.assign(
        y=d["success"].astype(float),
        f=d["focal"].astype(float),
        t=(d["arm"] == "pilot").astype(float),
    )
    ref = smf.ols("y ~ f * t", data=x).fit(cov_type="HC0")
    assert e.estimate == pytest.approx(ref.params["f:t"], rel=1e-10)
    assert e.std_error == pytest.approx(ref.bse["f:t"], rel=1e-10)
    assert e.p_value == pytest.approx(ref.pvalues["f:t"], rel=1e-10)
