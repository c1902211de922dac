"""The other evidence: ICC, Cronbach's alpha, kappa, raking, trimming, survey-weighted
differences, representativeness and training compliance, against independent references.

R values come from tests/reference/evidence.R (R 4.2.2, psych 2.2.9, survey 4.1-1), run
once; the tests do not need R. pingouin rounds its ICC intervals to two decimals and its
alpha intervals to three, so those are compared at that rounding.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilot_eval.analysis.evidence.openanswers import kappa, resolve
from pilot_eval.analysis.evidence.quality import consistency, icc, reliability
from pilot_eval.analysis.evidence.raking import kish_design_effect, rake, trim
from pilot_eval.analysis.evidence.representativeness import goodness_of_fit, standardised_difference
from pilot_eval.analysis.evidence.survey import weighted_difference

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

# Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]],
    dtype=float,
)

# psych::ICC(sf, lmer = FALSE), tests/reference/evidence.R: value, F, df1, df2, p, lower, upper
PSYCH_ICC = {
    "ICC1": (0.165741768405476, 1.79467849223947, 5, 18, 0.16476880834464,
             -0.132932324874751, 0.722560062328121),
    "ICC2": (0.289763779527559, 11.0272479564033, 5, 15, 0.000134566516484337,
             0.018786513374712, 0.761084369648953),
    "ICC3": (0.714840714840715, 11.0272479564033, 5, 15, 0.000134566516484337,
             0.342464765033925, 0.94585825995536),
    "ICC1k": (0.442797133679269, 1.79467849223947, 5, 18, 0.16476880834464,
              -0.884442155238119, 0.912415420340776),
    "ICC2k": (0.620050547598989, 11.0272479564033, 5, 15, 0.000134566516484337,
              0.0711368153025035, 0.927232040167722),
    "ICC3k": (0.909315542377069, 11.0272479564033, 5, 15, 0.000134566516484337,
              0.675674713816305, 0.985891678169062),
}  # fmt: skip

# Shrout & Fleiss (1979), Table 4, as printed (two decimals).
PUBLISHED_ICC = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62,
                 "ICC3k": 0.91}  # fmt: skip


def _long(matrix: np.ndarray) -> pd.DataFrame:
    rows = [(i, j, matrix[i, j]) for i in range(matrix.shape[0]) for j in range(matrix.shape[1])]
    return pd.DataFrame(rows, columns=["target", "rater", "rating"])


@pytest.mark.parametrize("form", list(PSYCH_ICC))
def test_icc_equals_psych_and_shrout_fleiss(form: str) -> None:
    value, f, df1, df2, p, low, high = PSYCH_ICC[form]
    got = icc(_long(SHROUT_FLEISS), form)  # type: ignore[arg-type]
    assert got["value"] == pytest.approx(value, abs=1e-12)
    assert round(got["value"], 2) == PUBLISHED_ICC[form]
    assert got["F"] == pytest.approx(f, rel=1e-10)
    assert (got["df1"], got["df2"]) == (df1, df2)
    assert got["p_value"] == pytest.approx(p, rel=1e-6)
    # pingouin rounds its 95% interval to two decimals
    assert got["ci_low"] == pytest.approx(round(low, 2), abs=1e-12)
    assert got["ci_high"] == pytest.approx(round(high, 2), abs=1e-12)
    assert abs(got["ci_low"] - low) <= 0.005
    assert abs(got["ci_high"] - high) <= 0.005


def _ratings_table(matrix: np.ndarray, criteria: int = 2) -> pd.DataFrame:
    """Ratings in the bundle's long form: each judge's rating repeated on each criterion
    (so the mean over criteria is the judge's rating); rater ids differ per target, as
    panels differ per vacancy."""
    rows = []
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            for c in range(criteria):
                rows.append((i, f"T{i}-R{j}", f"C{c}", matrix[i, j]))
    return pd.DataFrame(rows, columns=["row", "rater_id", "criterion", "score"])


def test_reliability_of_the_bundle_form_uses_seats_and_counts_what_it_leaves_out() -> None:
    ratings = _ratings_table(SHROUT_FLEISS)
    # a seventh application with only two raters cannot enter the complete table
    extra = pd.DataFrame(
        [(6, "T6-R0", "C0", 5.0), (6, "T6-R1", "C0", 6.0)],
        columns=["row", "rater_id", "criterion", "score"],
    )
    got = reliability(pd.concat([ratings, extra], ignore_index=True), "ICC2k")
    assert got["value"] == pytest.approx(PSYCH_ICC["ICC2k"][0], abs=1e-12)
    assert (got["raters"], got["n"], got["n_left_out"]) == (4, 6, 1)
    assert got["reason"] is None


def test_reliability_refuses_single_raters() -> None:
    ratings = _ratings_table(SHROUT_FLEISS[:, :1])
    got = reliability(ratings, "ICC1")
    assert got["reason"] == "applications have one rater each: no reliability"


# 10 subjects x 4 items, tests/reference/evidence.R
ITEMS = np.array(
    [[3, 4, 3, 5], [2, 2, 3, 2], [4, 5, 4, 4], [1, 2, 1, 2], [5, 4, 5, 5],
     [3, 3, 2, 3], [4, 4, 4, 5], [2, 1, 2, 1], [3, 4, 4, 3], [5, 5, 4, 5]],
    dtype=float,
)  # fmt: skip


def test_cronbach_alpha_equals_psych_with_feldt_interval() -> None:
    long = pd.DataFrame(
        [(i, f"Q{j}", ITEMS[i, j]) for i in range(10) for j in range(4)],
        columns=["row", "criterion", "score"],
    )
    got = consistency(long, alpha=0.05)
    # psych::alpha(items)$total$raw_alpha
    assert got["value"] == pytest.approx(0.943535308860386, abs=1e-12)
    # psych::alpha(items)$feldt (equal to Feldt's formula by hand); pingouin rounds to 3
    assert got["ci_low"] == pytest.approx(round(0.851449551795011, 3), abs=1e-12)
    assert got["ci_high"] == pytest.approx(round(0.984247330763968, 3), abs=1e-12)
    assert (got["n_items"], got["n"], got["n_left_out"]) == (4, 10, 0)


def test_cronbach_alpha_leaves_out_incomplete_applications() -> None:
    long = pd.DataFrame(
        [(i, f"Q{j}", ITEMS[i, j]) for i in range(10) for j in range(4) if (i, j) != (9, 3)],
        columns=["row", "criterion", "score"],
    )
    got = consistency(long, alpha=0.05)
    assert (got["n"], got["n_left_out"]) == (9, 1)


CODER_1 = [1, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0]
CODER_2 = [1, 0, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0]


def test_cohen_kappa_equals_psych() -> None:
    marks = np.column_stack([CODER_1, CODER_2]).astype(bool)
    got = kappa(marks, alpha=0.05)
    # psych::cohen.kappa: kappa, var.kappa (Fleiss, Cohen & Everitt 1969) and the Wald
    # interval kappa +- 1.96 sqrt(var) before psych clips it to 1
    assert got["method"] == "cohen"
    assert got["value"] == pytest.approx(0.693877551020408, abs=1e-12)
    assert got["std_error"] == pytest.approx(math.sqrt(0.0262229346685168), rel=1e-10)
    assert got["ci_low"] == pytest.approx(0.376490841016887, abs=1e-9)
    assert got["ci_high"] == pytest.approx(1.01126426102393, abs=1e-9)
    # 17 of 20 answers agree
    assert got["observed_agreement"] == pytest.approx(17 / 20)


def test_fleiss_kappa_by_hand() -> None:
    # Three coders, six answers. Per answer the share of agreeing coder pairs:
    # (3 yes) 1, (2 yes) 1/3, (0) 1, (1 yes) 1/3, (0) 1, (3 yes) 1: mean 7/9.
    # 9 of 18 marks are yes, so chance agreement is 0.5^2 + 0.5^2 = 1/2.
    # kappa = (7/9 - 1/2) / (1 - 1/2) = 5/9 (Fleiss 1971, eq. 1-9).
    marks = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 0], [1, 1, 1]], dtype=bool)
    got = kappa(marks, alpha=0.05)
    assert got["method"] == "fleiss"
    assert got["value"] == pytest.approx(5 / 9, abs=1e-12)
    assert got["observed_agreement"] == pytest.approx(4 / 6)


def test_kappa_undefined_when_every_mark_is_the_same() -> None:
    got = kappa(np.zeros((5, 2), dtype=bool), alpha=0.05)
    assert got["reason"].startswith("every coder gave the same mark")


def test_resolution_rules() -> None:
    marks = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    assert resolve(marks, "all").tolist() == [True, False, False, False]
    assert resolve(marks, "majority").tolist() == [True, True, False, False]
    assert resolve(marks, "any").tolist() == [True, True, True, False]
    # with two coders a majority is both
    two = np.array([[1, 1], [1, 0]], dtype=bool)
    assert resolve(two, "majority").tolist() == [True, False]


@pytest.fixture
def survey_small() -> pd.DataFrame:
    """80 applications of 10 vacancies written by tests/reference/evidence.R."""
    return pd.read_csv(REFERENCE / "survey_small.csv", keep_default_na=True)


def _codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    categories = sorted(set(values))
    return pd.Index(categories).get_indexer(values).astype(np.intp), categories


# survey::rake(d0, list(~arm + origin, ~arm + stage), ...) weights, by application_id
R_RAKE = {
    "A01": 2.16187347873173, "A03": 1.60862773828289, "A04": 1.4758257910595,
    "A07": 2.11182064620489, "A08": 1.1241742089405, "A10": 1.33333333333333,
    "A16": 2.83812652126827, "A41": 1.4285714285736, "A42": 2.0, "A45": 3.49999999999734,
    "A53": 2.99999999999772, "A80": 1.33333333333333,
}  # fmt: skip

# survey::trimWeights(rd, upper = 1.3 * mean(weights(rd)), strict = TRUE)
R_TRIM = {
    "A01": 2.32598164437377, "A03": 1.77273590392493, "A10": 1.49744149897538,
    "A16": 2.41860465116279, "A41": 1.59267959421564, "A42": 2.16410816564204,
    "A45": 2.41860465116279, "A80": 1.49744149897538,
}  # fmt: skip


def _raked(survey_small: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    everyone = survey_small
    resp = everyone[everyone["responded"]].reset_index(drop=True)
    margins, targets = [], []
    for a, b in (("arm", "origin"), ("arm", "stage")):
        key_all = everyone[a] + "|" + everyone[b]
        key_resp = resp[a] + "|" + resp[b]
        codes, categories = _codes(key_all)
        margins.append(pd.Index(categories).get_indexer(key_resp).astype(np.intp))
        targets.append(np.bincount(codes, minlength=len(categories)).astype(float))
    raked = rake(np.ones(len(resp)), margins, targets)
    return resp, raked.weights


def test_raking_equals_r_survey(survey_small: pd.DataFrame) -> None:
    resp, w = _raked(survey_small)
    assert len(resp) == 43
    by_id = dict(zip(resp["application_id"], w, strict=True))
    for app, value in R_RAKE.items():
        # R stops at a relative change of 1e-12 of the total weight: its weights are off
        # from the fixed point by up to about 3e-12 (3.49999999999734 for 3.5)
        assert by_id[app] == pytest.approx(value, rel=1e-9), app
    assert w.sum() == pytest.approx(80.0)
    assert max(w) == pytest.approx(3.49999999999734, rel=1e-9)
    # Kish's design effect of the raked weights, as R computed it
    assert kish_design_effect(w) == pytest.approx(1.14409601886667, rel=1e-9)


def test_trimming_equals_r_trimweights(survey_small: pd.DataFrame) -> None:
    resp, w = _raked(survey_small)
    upper = 1.3 * w.mean()
    # R: trim_upper
    assert upper == pytest.approx(2.41860465116279, rel=1e-9)
    trimmed, n_capped = trim(w, upper)
    by_id = dict(zip(resp["application_id"], trimmed, strict=True))
    for app, value in R_TRIM.items():
        assert by_id[app] == pytest.approx(value, rel=1e-9), app
    assert trimmed.sum() == pytest.approx(80.0)
    assert trimmed.max() == pytest.approx(upper)
    assert n_capped == int(np.sum(np.isclose(trimmed, upper)))


def test_weighted_difference_equals_svyglm(survey_small: pd.DataFrame) -> None:
    resp, w = _raked(survey_small)
    got = weighted_difference(
        resp["fairness"].to_numpy(float),
        (resp["arm"] == "pilot").to_numpy(),
        w,
        resp["vacancy_id"].to_numpy(),
        alpha=0.05,
    )
    # svyglm(fairness ~ arm, svydesign(ids = ~vacancy_id, weights = ~wr)): the arm
    # coefficient, its SE, df.residual and the two-sided p-value
    assert got["estimate"] == pytest.approx(0.498205373671121, rel=1e-9)
    assert got["std_error"] == pytest.approx(0.274187687680735, rel=1e-9)
    assert got["df"] == 8
    assert got["p_value"] == pytest.approx(0.106737379502331, rel=1e-7)
    # svyby(~fairness, ~arm, svymean): weighted means
    assert got["mean_reference"] == pytest.approx(3.22619938823379, rel=1e-9)
    assert got["mean_arm"] == pytest.approx(3.72440476190491, rel=1e-9)
    # R's variance for the raked design itself (it uses the known margins) is smaller:
    # calibrated_se_armpilot 0.241877761210852; treating weights as fixed is the safe side
    assert got["std_error"] > 0.241877761210852


def test_raking_refuses_a_category_without_respondents() -> None:
    from pilot_eval.errors import EstimationError

    with pytest.raises(EstimationError, match="has no respondent"):
        rake(np.ones(3), [np.array([0, 0, 1])], [np.array([2.0, 2.0, 1.0])])


def test_standardised_difference_by_hand() -> None:
    # (0.3 - 0.2) / sqrt((0.3 * 0.7 + 0.2 * 0.8) / 2) = 0.1 / sqrt(0.185)
    assert standardised_difference(0.3, 0.2) == pytest.approx(0.1 / math.sqrt(0.185))
    assert standardised_difference(0.0, 0.0) is None


def test_goodness_of_fit_by_hand_and_by_monte_carlo() -> None:
    observed = np.array([30, 50, 20])
    shares = np.array([0.25, 0.5, 0.25])
    got = goodness_of_fit(observed, shares, draws=20_000, seed=1)
    # expected 25, 50, 25: (5^2 + 0 + 5^2) / 25 = 2, df 2, p = exp(-2 / 2)
    assert got["statistic"] == pytest.approx(2.0)
    assert got["df"] == 2
    assert got["p_value"] == pytest.approx(math.exp(-1.0))
    # the Monte Carlo p-value agrees within a few of its standard errors (about 0.0034)
    assert abs(got["p_value_monte_carlo"] - math.exp(-1.0)) < 0.015
    assert got == goodness_of_fit(observed, shares, draws=20_000, seed=1)


def test_weighted_difference_needs_four_vacancies_per_arm() -> None:
    y = np.arange(20, dtype=float)
    treated = np.array([True] * 6 + [False] * 14)
    # the treated respondents sit in three vacancies: no clustered SE for that arm
    clusters = np.array([0, 0, 1, 1, 2, 2, *range(3, 17)])
    got = weighted_difference(y, treated, np.ones(20), clusters, alpha=0.05)
    assert got["reason"] == "needs respondents in at least 4 vacancies of each arm"


def test_protect_complement_hides_a_part_whose_rest_is_small() -> None:
    from pilot_eval.analysis.evidence import protect_complement

    row = {"members_trained": 25, "members_required": 28, "compliance": 25 / 28}
    # 28 - 25 = 3 untrained members would follow
    assert protect_complement(row, "members_trained", "members_required", 10, ("compliance",)) == 2
    assert row == {"members_trained": None, "members_required": 28, "compliance": None}
    kept = {"members_trained": 15, "members_required": 40, "compliance": 15 / 40}
    assert protect_complement(kept, "members_trained", "members_required", 10) == 0
