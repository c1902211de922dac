"""CR2 standard errors with Bell-McCaffrey degrees of freedom, the tests that decide.

Reference values from R estimatr::lm_robust(se_type = "CR2"), tests/reference/cr2_small.R,
on tests/reference/lpm_small.csv (5 vacancies per arm). A second, independent check
builds the CR2 adjustment and the Bell-McCaffrey degrees of freedom from the full n x n
hat matrix of the dummy-variable regression on the applications (Imbens & Kolesar 2016,
section 4), and compares it with the k x k computation on cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.estimators.linear import cluster_cr2
from pilot_eval.plan.model import AnalysisPlan
from tests.analysis.test_linear import DATA, STAGE, _h, _plan, _sample, _weighted

RTOL = 1e-6  # the tolerance; the values below agree to about 1e-12


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    d = pd.read_csv(DATA)
    d["focal"] = d["focal"].astype(bool)
    d["success"] = d["success"].astype(bool)
    number = d["vacancy_id"].str[1:].astype(int)
    # the score of cr2_small.R: deterministic, with a focal gap and vacancy differences
    row = np.arange(1, len(d) + 1)
    d["score"] = 50 + 4 * d["focal"] + (number % 5) * 2 + row % 7 - 3 * d["success"]
    return d


def _check(e: object, est: float, se: float, df: float) -> None:
    assert e.estimate == pytest.approx(est, rel=RTOL, abs=1e-12)  # type: ignore[attr-defined]
    assert e.std_error == pytest.approx(se, rel=RTOL)  # type: ignore[attr-defined]
    assert e.df == pytest.approx(df, rel=RTOL)  # type: ignore[attr-defined]
    assert e.details["variance"] == "CR2"  # type: ignore[attr-defined]


def test_stage_gap(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    e = estimate("lpm_cr2", _sample(small[small["arm"] == "control"]), Context(plan, h))
    _check(e, -0.151577058528876, 0.0735047840206457, 3.51892396592503)


def test_gap_difference(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="gap_difference", arm="pilot", stage=STAGE)
    e = estimate("lpm_cr2", _sample(small), Context(plan, h))
    _check(e, 0.252691751715041, 0.095950968534684, 7.31394536582708)


def test_pool_share_with_block_effects(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    frame = small.rename(columns={"block": "blk"})
    h = _h(kind="pool_share", arm="pilot")
    e = estimate("lpm_cr2", _sample(frame), Context(_plan(plan, "blk"), h))
    _check(e, 0.000213885406963837, 0.0385194119473596, 3.73018225172813)


def test_pool_share_with_covariates(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="pool_share", arm="pilot", adjust_for=["family", "scale"])
    e = estimate("lpm_cr2", _sample(small), Context(_plan(plan, None), h))
    _check(e, 0.000499060419288537, 0.0494819363336696, 3.92167455381581)


def test_weighted_stage_gap(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    """Analysis weights: CR2 of the sqrt(w)-transformed regression (working model W^-1).

    This is Pustejovsky & Tipton's (2018) CR2 for weighted least squares; estimatr
    1.0 with vacancy dummies and weights gives another working model (standard error
    0.0923647161755536, df 2.23496586712618, cr2_small.R), so the reference here is the
    full-hat-matrix computation on the applications.
    """
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    frame = _weighted(small)
    control = frame[frame["arm"] == "control"].reset_index(drop=True)
    e = estimate("lpm_cr2", _sample(control), Context(plan, h))
    vac = pd.factorize(control["vacancy_id"], sort=True)[0]
    dummies = (vac[:, None] == np.arange(vac.max() + 1)).astype(float)
    root_w = np.sqrt(control["weight"].to_numpy())
    x = np.column_stack([control["focal"].astype(float), dummies]) * root_w[:, None]
    y = control["success"].to_numpy(dtype=float) * root_w
    contrast = np.eye(x.shape[1])[0]
    variance, df = _brute_force(y, x, vac, contrast)
    _check(e, -0.193774592991528, float(np.sqrt(variance)), df)


def test_difference_pooled(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="stage_gap", arm="control", stage=STAGE)
    sample = _sample(small[small["arm"] == "control"])
    e = estimate("difference_pooled_cr2", sample, Context(plan, h))
    _check(e, -0.165079365079365, 0.076869786195644, 3.53339005967536)
    pooled = estimate("difference_pooled", sample, Context(plan, h))
    assert e.estimate == pytest.approx(pooled.estimate, rel=1e-12)


def test_impact_ratio(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="impact_ratio", arm="pilot", stage=STAGE)
    sample = _sample(small[small["arm"] == "pilot"])
    e = estimate("impact_ratio_cr2", sample, Context(plan, h))
    # R: the reparametrised regression whose first coefficient is the delta-method
    # contrast of the log ratio (standard error and df of that contrast)
    _check(e, 1.29949874686717, 0.153922757302412, 3.80911232074042)
    assert e.estimate == pytest.approx(estimate("impact_ratio", sample, Context(plan, h)).estimate)
    low, high = e.ci_low, e.ci_high
    assert low is not None
    assert high is not None
    q = scipy.stats.t.ppf(0.975, 3.80911232074042)
    assert np.log(high) == pytest.approx(np.log(1.29949874686717) + q * 0.153922757302412)


def test_hedges_g(small: pd.DataFrame, plan: AnalysisPlan) -> None:
    h = _h(kind="score_gap", arm="pilot", score="score")
    sample = _sample(small[small["arm"] == "pilot"])
    e = estimate("hedges_g_cr2", sample, Context(plan, h))
    factor = 0.263312994553554  # R: J / pooled SD
    _check(e, 1.10062105445616, factor * 0.352142605305703, 3.80967091847537)
    assert e.details["mean_difference"] == pytest.approx(4.17989646246765, rel=RTOL)
    assert e.estimate == pytest.approx(estimate("hedges_g", sample, Context(plan, h)).estimate)


def _brute_force(
    y: np.ndarray, x: np.ndarray, clusters: np.ndarray, contrast: np.ndarray
) -> tuple[float, float]:
    """CR2 variance and Bell-McCaffrey df of contrast'beta from the full hat matrix."""
    bread = np.linalg.inv(x.T @ x)
    hat = x @ bread @ x.T
    resid = y - hat @ y
    residual_maker = np.eye(len(y)) - hat
    meat = np.zeros((x.shape[1], x.shape[1]))
    columns = []
    for g in np.unique(clusters):
        rows = np.flatnonzero(clusters == g)
        block = residual_maker[np.ix_(rows, rows)]
        values, vectors = np.linalg.eigh(block)  # symmetric: the pseudo-inverse root
        kept = values > 1e-10
        adjust = (vectors[:, kept] / np.sqrt(values[kept])) @ vectors[:, kept].T
        u = x[rows].T @ adjust @ resid[rows]
        meat += np.outer(u, u)
        column = np.zeros(len(y))
        column[rows] = adjust @ x[rows] @ bread @ contrast
        columns.append(residual_maker @ column)
    big_g = np.column_stack(columns)
    omega = np.linalg.eigvalsh(big_g.T @ big_g)
    variance = float(contrast @ bread @ meat @ bread @ contrast)
    return variance, float(omega.sum() ** 2 / (omega**2).sum())


@pytest.mark.parametrize("seed", range(3))
def test_cells_equal_the_full_hat_matrix(seed: int) -> None:
    """The k x k computation on cells equals CR2 and BM df from the n x n hat matrix."""
    rng = np.random.default_rng(500 + seed)
    n_vac = 7
    sizes = rng.integers(3, 12, n_vac)
    vac = np.repeat(np.arange(n_vac), sizes)
    focal = rng.random(len(vac)) < 0.4
    success = rng.random(len(vac)) < 0.3 + 0.1 * focal + 0.03 * vac
    dummies = (vac[:, None] == np.arange(n_vac)).astype(float)
    x_full = np.column_stack([focal.astype(float), dummies])
    contrast = np.zeros(n_vac + 1)
    contrast[0] = 1.0
    variance, df = _brute_force(success.astype(float), x_full, vac, contrast)
    # cells: vacancy x focal x success, counts as frequency weights, vacancy means removed
    frame = pd.DataFrame({"v": vac, "f": focal, "s": success})
    cells = frame.value_counts().reset_index(name="n").sort_values(["v", "f", "s"])
    v = cells["v"].to_numpy()
    w = cells["n"].to_numpy(dtype=float)

    def within(col: np.ndarray) -> np.ndarray:
        means = np.bincount(v, w * col) / np.bincount(v, w)
        return col - means[v]

    xt = within(cells["f"].to_numpy(dtype=float))[:, None]
    yt = within(cells["s"].to_numpy(dtype=float))
    fit = cluster_cr2(yt, xt, v.astype(np.intp), n_vac, weights=w)
    assert fit.vcov[0, 0] == pytest.approx(variance, rel=1e-9)
    assert fit.df(np.array([1.0])) == pytest.approx(df, rel=1e-9)
