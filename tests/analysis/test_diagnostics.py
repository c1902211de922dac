"""Design diagnostics (balance, missingness, fidelity) against hand calculations and R."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from pilot_eval.analysis.design_checks import design_diagnostics
from pilot_eval.analysis.results import clean_number
from pilot_eval.data.bundle import load_bundle
from pilot_eval.data.frame import analysis_frame
from pilot_eval.plan.model import AnalysisPlan

NA = pd.NA
SYNTHETIC = Path(__file__).resolve().parents[2] / "data" / "synthetic"

# The small bundle of tests/reference/diagnostics.R: six control and four pilot vacancies.
VACANCIES = pd.DataFrame(
    {
        "vacancy_id": [f"V{i:02d}" for i in range(1, 11)],
        "arm": ["control"] * 6 + ["pilot"] * 4,
        "department": ["BZK", "BZK", "FIN", "FIN", "DEF", "BZK", "BZK", "FIN", "DEF", "DEF"],
        "function_family": [
            *("beleid", "ICT", "beleid", "juridisch", "ICT", "beleid"),
            *("beleid", "ICT", "juridisch", "beleid"),
        ],
        "salary_scale": pd.array([10, 8, 11, 9, 7, 12, 10, 11, 13, 9], dtype="Int64"),
        "managerial": pd.array(
            [False, False, True, False, False, True, False, True, True, NA], dtype="boolean"
        ),
        # control V03 used the inclusive text (contamination)
        "inclusive_text": pd.array([False] * 2 + [True] + [False] * 3 + [True] * 4, "boolean"),
        # pilot V08 did not use the questionnaire (fidelity failure), V09 not recorded
        "anonymous_questionnaire": pd.array([False] * 6 + [True, False, NA, True], "boolean"),
        # control V06 not recorded
        "structured_interview": pd.array([False] * 5 + [NA] + [True] * 4, "boolean"),
    }
)

# applications per vacancy, and how many of them did not report their origin
N_APPLICATIONS = [5, 4, 6, 3, 5, 4, 6, 5, 4, 3]
N_ORIGIN_MISSING = [1, 0, 3, 1, 2, 1, 0, 1, 1, 0]


def _frame() -> pd.DataFrame:
    rows = []
    for i, (n, m) in enumerate(zip(N_APPLICATIONS, N_ORIGIN_MISSING, strict=True)):
        vac = VACANCIES.iloc[i]
        for j in range(n):
            rows.append(
                {
                    "application_id": f"A{i:02d}{j:02d}",
                    "vacancy_id": vac["vacancy_id"],
                    "arm": vac["arm"],
                    "origin": None if j < m else ("netherlands" if j % 2 else "outside_europe"),
                    "gender": "female" if j % 2 else "male",  # always reported
                }
            )
    frame = pd.DataFrame(rows)
    frame["origin"] = pd.Categorical(
        frame["origin"], categories=["netherlands", "europe", "outside_europe"]
    )
    frame["gender"] = pd.Categorical(frame["gender"], categories=["female", "male", "other"])
    return frame


def _std_diff(p1: float, p0: float) -> float:
    return (p1 - p0) / math.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)


def _skipped(result: dict[str, object]) -> dict[str, str]:
    entries = result["skipped"]
    assert isinstance(entries, list)
    return {e["diagnostic"]: e["reason"] for e in entries}


@pytest.fixture
def small(plan: AnalysisPlan) -> dict[str, object]:
    return design_diagnostics(_frame(), VACANCIES, plan)


def test_json_serialisable(small: dict[str, object]) -> None:
    json.dumps(clean_number(small), allow_nan=False, sort_keys=True)
    assert json.loads(json.dumps(small, allow_nan=False)) == small


def test_categorical_balance_by_hand(small: dict[str, object]) -> None:
    dep = small["balance"]["comparisons"]["pilot"]["covariates"]["department"]  # type: ignore[index]
    # control: BZK 3, FIN 2, DEF 1 of 6; pilot: BZK 1, FIN 1, DEF 2 of 4
    assert dep["categories"]["BZK"]["share"] == {"pilot": 0.25, "control": 0.5}
    assert dep["categories"]["BZK"]["std_diff"] == pytest.approx(_std_diff(1 / 4, 3 / 6))
    assert dep["categories"]["BZK"]["std_diff"] == pytest.approx(-0.25 / math.sqrt(0.21875))
    assert dep["categories"]["DEF"]["std_diff"] == pytest.approx(_std_diff(2 / 4, 1 / 6))
    assert dep["max_abs_std_diff"] == pytest.approx(abs(_std_diff(2 / 4, 1 / 6)))
    # R chisq.test(table(arm, department), correct = FALSE): tests/reference/diagnostics.R
    chi = dep["chi_square"]
    assert chi["statistic"] == pytest.approx(1.31944444444444, rel=1e-12)
    assert chi["df"] == 2
    assert chi["p_value"] == pytest.approx(0.516994924248934, rel=1e-12)
    assert chi["min_expected"] == pytest.approx(4 * 3 / 10)
    assert chi["cells_expected_below_5"] == 6
    assert dep["fisher_exact"] is None  # 2 x 3: no Fisher
    table = [[1, 2, 1], [3, 1, 2]]  # scipy on the same table (columns BZK, DEF, FIN)
    assert chi["statistic"] == pytest.approx(
        stats.chi2_contingency(table, correction=False).statistic
    )
    fam = small["balance"]["comparisons"]["pilot"]["covariates"]["function_family"]  # type: ignore[index]
    assert fam["chi_square"]["statistic"] == pytest.approx(0.138888888888889, rel=1e-12)
    assert fam["chi_square"]["p_value"] == pytest.approx(0.932911960387147, rel=1e-12)


def test_numeric_balance_by_hand(small: dict[str, object]) -> None:
    scale = small["balance"]["comparisons"]["pilot"]["covariates"]["salary_scale"]  # type: ignore[index]
    control, pilot = [10, 8, 11, 9, 7, 12], [10, 11, 13, 9]
    assert scale["mean"] == {"pilot": 10.75, "control": 9.5}
    assert scale["sd"]["control"] == pytest.approx(math.sqrt(3.5))
    assert scale["sd"]["pilot"] == pytest.approx(statistics.stdev(pilot))
    smd = 1.25 / math.sqrt((statistics.variance(control) + statistics.variance(pilot)) / 2)
    assert scale["std_diff"] == pytest.approx(smd)
    # R t.test(pilot, control, var.equal = FALSE): tests/reference/diagnostics.R
    assert scale["welch_t"]["statistic"] == pytest.approx(1.09108945117996, rel=1e-10)
    assert scale["welch_t"]["df"] == pytest.approx(7.02312138728324, rel=1e-10)
    assert scale["welch_t"]["p_value"] == pytest.approx(0.311245211905142, rel=1e-10)


def test_binary_balance_by_hand(small: dict[str, object]) -> None:
    man = small["balance"]["comparisons"]["pilot"]["covariates"]["managerial"]  # type: ignore[index]
    # control 2 of 6, pilot 2 of 3 known (V10 missing)
    assert man["share"] == {"pilot": pytest.approx(2 / 3), "control": pytest.approx(1 / 3)}
    assert man["n_missing"] == {"pilot": 1, "control": 0}
    assert man["std_diff"] == pytest.approx(math.sqrt(0.5))
    # R chisq.test(correct = FALSE) and fisher.test: tests/reference/diagnostics.R
    assert man["chi_square"]["statistic"] == pytest.approx(0.9, rel=1e-12)
    assert man["chi_square"]["p_value"] == pytest.approx(0.342781711147911, rel=1e-12)
    assert man["fisher_exact"]["p_value"] == pytest.approx(0.523809523809524, rel=1e-10)
    assert man["fisher_exact"]["odds_ratio"] == pytest.approx((2 * 4) / (1 * 2))


def test_balance_summary_and_flags(small: dict[str, object]) -> None:
    comp = small["balance"]["comparisons"]["pilot"]  # type: ignore[index]
    assert comp["n_vacancies"] == {"pilot": 4, "control": 6}
    diffs = [
        abs(_std_diff(2 / 4, 1 / 6)),
        abs(_std_diff(1 / 4, 3 / 6)),
        math.sqrt(0.5),
        comp["covariates"]["salary_scale"]["std_diff"],
    ]
    assert comp["max_abs_std_diff"] == pytest.approx(max(diffs))
    flagged = {(f["covariate"], f["category"]) for f in comp["flagged"]}
    assert ("salary_scale", None) in flagged
    assert ("managerial", None) in flagged
    assert ("department", "BZK") in flagged
    # function family: beleid 3/6 vs 2/4 is balanced and not flagged
    assert ("function_family", "beleid") not in flagged
    assert all(abs(f["std_diff"]) > 0.1 for f in comp["flagged"])
    assert "chance" in small["balance"]["note"]  # type: ignore[index]


def test_balance_note_depends_on_assignment(plan: AnalysisPlan) -> None:
    design = plan.design.model_copy(update={"assignment": "self_selected", "block": None})
    selfsel = plan.model_copy(update={"design": design})
    note = design_diagnostics(_frame(), VACANCIES, selfsel)["balance"]["note"]
    assert "not randomised" in note
    assert "chance" not in note


def test_clustered_missingness_matches_r(small: dict[str, object]) -> None:
    origin = small["missingness"]["columns"]["origin"]  # type: ignore[index]
    assert origin["arms"]["control"]["share_not_reported"] == pytest.approx(8 / 27)
    assert origin["arms"]["pilot"]["share_not_reported"] == pytest.approx(2 / 18)
    assert origin["arms"]["pilot"]["n_vacancies"] == 4
    comp = origin["comparisons"]["pilot"]
    assert comp["difference"] == pytest.approx(2 / 18 - 8 / 27)
    # R lm(missing ~ arm) with sandwich::vcovCL(cluster = ~vacancy_id, type = "HC1"),
    # t with G - 1 df: tests/reference/diagnostics.R
    lpm = comp["clustered_lpm"]
    assert lpm["estimate"] == pytest.approx(-0.185185185185185, rel=1e-12)
    assert lpm["std_error"] == pytest.approx(0.0953930085493711, rel=1e-10)
    assert lpm["statistic"] == pytest.approx(-1.94128676725131, rel=1e-10)
    assert lpm["df"] == 9
    assert lpm["p_value"] == pytest.approx(0.0841354145566061, rel=1e-10)
    assert lpm["n_vacancies"] == 10
    assert lpm["n_applications"] == 45
    # R chisq.test(table(arm, missing), correct = FALSE)
    naive = comp["naive_chi_square"]
    assert naive["statistic"] == pytest.approx(2.14285714285714, rel=1e-12)
    assert naive["df"] == 1
    assert naive["p_value"] == pytest.approx(0.14323490752467, rel=1e-12)
    assert "anonymous" in small["missingness"]["note"]  # type: ignore[index]


def test_missingness_without_variation(small: dict[str, object]) -> None:
    # gender is always reported: shares are 0, the test is not defined (and no warning)
    gender = small["missingness"]["columns"]["gender"]  # type: ignore[index]
    assert gender["arms"]["pilot"]["share_not_reported"] == 0.0
    lpm = gender["comparisons"]["pilot"]["clustered_lpm"]
    assert lpm["estimate"] == 0.0
    assert lpm["p_value"] is None
    assert lpm["reason"] is not None
    assert gender["comparisons"]["pilot"]["naive_chi_square"]["statistic"] is None
    assert "missingness.gender.pilot.clustered_lpm" in _skipped(small)


def test_fidelity_counts(small: dict[str, object]) -> None:
    cols = small["fidelity"]["columns"]  # type: ignore[index]
    text = cols["inclusive_text"]["arms"]
    assert text["control"] == {
        "n_vacancies": 6,
        "n_applied": 1,
        "n_not_applied": 5,
        "n_missing": 0,
        "share_applied": pytest.approx(1 / 6),
        "n_contamination": 1,
    }
    assert text["pilot"]["n_applied"] == 4
    assert text["pilot"]["n_fidelity_failures"] == 0
    quest = cols["anonymous_questionnaire"]["arms"]["pilot"]
    assert (quest["n_applied"], quest["n_not_applied"], quest["n_missing"]) == (2, 1, 1)
    assert quest["share_applied"] == pytest.approx(2 / 3)
    assert quest["n_fidelity_failures"] == 1
    interview = cols["structured_interview"]["arms"]["control"]
    assert (interview["n_applied"], interview["n_missing"], interview["share_applied"]) == (0, 1, 0)
    summary = small["fidelity"]["all_present"]["arms"]  # type: ignore[index]
    # pilot: V07 and V10 applied all three; V08 failed one; V09 has a missing record
    assert summary["pilot"]["n_all_applied"] == 2
    assert summary["pilot"]["n_any_missing"] == 1
    assert summary["control"]["n_none_applied"] == 4  # V03 contaminated, V06 missing


def test_absent_columns_are_skipped(plan: AnalysisPlan) -> None:
    vacancies = VACANCIES.drop(columns=["managerial", "structured_interview"])
    frame = _frame().drop(columns=["gender"])
    result = design_diagnostics(frame, vacancies, plan)
    skipped = _skipped(result)
    for name in (
        "balance.managerial",
        "fidelity.structured_interview",
        "missingness.gender",
        "missingness.age_band",
        "missingness.disability",
    ):
        assert name in skipped
    assert "managerial" not in result["balance"]["comparisons"]["pilot"]["covariates"]
    assert "structured_interview" not in result["fidelity"]["columns"]
    assert result["fidelity"]["all_present"]["interventions"] == [
        "inclusive_text",
        "anonymous_questionnaire",
    ]
    json.dumps(clean_number(result), allow_nan=False)


def test_only_fidelity_columns_absent(plan: AnalysisPlan) -> None:
    vacancies = VACANCIES[["vacancy_id", "arm", "department", "function_family", "salary_scale"]]
    result = design_diagnostics(_frame(), vacancies, plan)
    assert result["fidelity"]["columns"] == {}
    assert result["fidelity"]["all_present"] is None
    assert {"fidelity.inclusive_text", "fidelity.anonymous_questionnaire"} <= set(_skipped(result))


def test_one_arm_is_skipped(plan: AnalysisPlan) -> None:
    vacancies = VACANCIES[VACANCIES["arm"] == "control"]
    frame = _frame()
    frame = frame[frame["arm"] == "control"]
    result = design_diagnostics(frame, vacancies, plan)
    skipped = _skipped(result)
    assert "only one arm" in skipped["balance"]
    assert "missingness.origin.pilot" in skipped
    assert result["balance"]["comparisons"] == {}
    assert result["missingness"]["columns"]["origin"]["comparisons"] == {}
    json.dumps(clean_number(result), allow_nan=False)


def test_too_few_vacancies_is_skipped(plan: AnalysisPlan) -> None:
    keep = ["V01", "V02", "V03", "V07"]  # a single pilot vacancy
    vacancies = VACANCIES[VACANCIES["vacancy_id"].isin(keep)]
    frame = _frame()
    frame = frame[frame["vacancy_id"].isin(keep)]
    result = design_diagnostics(frame, vacancies, plan)
    skipped = _skipped(result)
    assert "fewer than 2 vacancies" in skipped["balance.pilot"]
    assert "fewer than 2 vacancies" in skipped["missingness.origin.pilot.clustered_lpm"]
    lpm = result["missingness"]["columns"]["origin"]["comparisons"]["pilot"]["clustered_lpm"]
    assert lpm["std_error"] is None
    json.dumps(clean_number(result), allow_nan=False)


def test_complete_separation_is_flagged(plan: AnalysisPlan) -> None:
    vacancies = VACANCIES.assign(
        managerial=pd.array([False] * 6 + [True] * 4, dtype="boolean"),
        salary_scale=pd.array([8] * 6 + [8] * 4, dtype="Int64"),
    )
    result = design_diagnostics(_frame(), vacancies, plan)
    comp = result["balance"]["comparisons"]["pilot"]
    man = comp["covariates"]["managerial"]
    assert man["std_diff"] is None  # infinite: every pilot vacancy, no control vacancy
    assert any(
        f["covariate"] == "managerial" and "separation" in f["reason"] for f in comp["flagged"]
    )
    scale = comp["covariates"]["salary_scale"]
    assert scale["std_diff"] == 0.0
    assert scale["welch_t"]["p_value"] is None
    json.dumps(clean_number(result), allow_nan=False)


def test_synthetic_bundle(plan: AnalysisPlan) -> None:
    bundle = load_bundle(SYNTHETIC, plan)
    frame = analysis_frame(bundle, plan)
    result = design_diagnostics(frame, bundle.vacancies, plan)
    text = json.dumps(clean_number(result), allow_nan=False, sort_keys=True)
    assert json.loads(text)["skipped"] == []
    for col in ("origin", "gender", "age_band", "disability"):
        arms = result["missingness"]["columns"][col]["arms"]
        assert arms["pilot"]["share_not_reported"] < arms["control"]["share_not_reported"]
        lpm = result["missingness"]["columns"][col]["comparisons"]["pilot"]["clustered_lpm"]
        assert lpm["estimate"] < 0
        assert lpm["df"] == bundle.vacancies.shape[0] - 1
    origin = result["missingness"]["columns"]["origin"]["arms"]
    assert origin["pilot"]["share_not_reported"] == pytest.approx(0.16, abs=0.02)
    assert origin["control"]["share_not_reported"] == pytest.approx(0.20, abs=0.02)
    # blocks hold one department and function family, so those are balanced exactly
    comp = result["balance"]["comparisons"]["pilot"]
    assert comp["covariates"]["department"]["max_abs_std_diff"] == 0.0
    assert comp["max_abs_std_diff"] < 0.1
    fidelity = result["fidelity"]["columns"]["inclusive_text"]["arms"]
    assert fidelity["pilot"]["n_vacancies"] == 80
    assert fidelity["control"]["n_contamination"] == 0
