"""The other evidence end to end: the example run, its report sections in both
languages, sections left out cleanly when a table is absent, validation of the optional
tables, and the robustness specifications R6 (gap varies with vacancy columns) and R7
(population weights)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.evidence.representativeness import population_weights
from pilot_eval.analysis.evidence.training import training_section
from pilot_eval.analysis.records import Results
from pilot_eval.data.bundle import load_bundle
from pilot_eval.data.frame import analysis_frame, comparison_sample
from pilot_eval.errors import DataValidationError
from pilot_eval.pipeline.run import evaluate, prepare_inputs
from pilot_eval.plan.model import AnalysisPlan, load_plan
from pilot_eval.report.render import render

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
SYNTHETIC = ROOT / "data" / "synthetic"
OPTIONAL = ("interview_ratings", "survey", "committee_training", "population")


def _results(data: Path) -> dict[str, Any]:
    inputs = prepare_inputs(PLAN, data, False)
    out: dict[str, Any] = evaluate(inputs).json_form()
    return out


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    return _results(SYNTHETIC)


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    out: dict[str, Any] = json.loads((SYNTHETIC / "truth.json").read_text())["evidence"]
    return out


def test_example_recovers_the_generating_model(
    results: dict[str, Any], truth: dict[str, Any]
) -> None:
    ev = results["evidence"]
    assert ev["skipped"] == []
    q = ev["interview_quality"]
    for arm in ("control", "pilot"):
        # one-way ICC of three raters: the model's value within a few hundredths (the
        # model value ignores clipping, rounding and the bias term)
        assert q["reliability"][arm]["value"] == pytest.approx(
            truth["interview_ratings"]["icc1k"][arm], abs=0.02
        )
    assert q["reliability"]["pilot"]["value"] > q["reliability"]["control"]["value"]
    questionnaire = next(c for c in q["consistency"] if c["instrument"] == "questionnaire")
    assert questionnaire["value"] == pytest.approx(
        truth["interview_ratings"]["questionnaire_alpha"], abs=0.02
    )
    gap = q["gaps"][0]
    control = gap["per_arm"]["control"]
    g_true = truth["interview_ratings"]["rating_gap_outside_europe_hedges_g"]["control"]
    assert control["ci_low"] < g_true < control["ci_high"]
    s = ev["survey"]
    assert s["weighting"]["sum_of_weights"] == pytest.approx(results["data"]["n_applications"])
    true_diff = truth["survey"]["difference_pilot_minus_control_all_applicants"]
    for row in s["comparisons"]:
        label = {"all": "all", "focal": "outside_europe", "reference": "netherlands"}[row["side"]]
        w = row["weighted"]
        assert w["ci_low"] < true_diff[row["scale"]][label] < w["ci_high"], row
    themes = {t["code"]: t for t in s["open_answers"]["themes"]}
    for code, expected in truth["survey"]["expected_cohen_kappa"].items():
        a = themes[code]["agreement"]
        assert a["ci_low"] - 0.02 < expected < a["ci_high"] + 0.02, code
    rep = ev["representativeness"]["margins"][0]
    assert rep["margin"] == "department"
    pilot = next(a for a in rep["arms"] if a["arm"] == "pilot")
    defensie = next(c for c in pilot["categories"] if c["category"] == "DEF")
    # the population holds Defensie at 2.5 times its weight in the bundle
    assert defensie["standardised_difference"] < -0.3


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_shows_every_section_of_the_other_evidence(
    results: dict[str, Any], lang: str, fmt: str
) -> None:
    text = render(Results.model_validate(results), lang, fmt, "pilot-eval run")  # type: ignore[arg-type]
    headings = {
        "nl": ["8. Overig bewijs", "Betrouwbaarheid van de gespreksbeoordelingen",
               "Enquête onder sollicitanten", "Open antwoorden",
               "Scholing van selectiecommissies", "Staan de pilotvacatures voor het Rijk?",
               "9. Methodologische reflectie"],
        "en": ["8. Other evidence", "Reliability of the interview ratings", "Applicant survey",
               "Open answers", "Training of selection committees",
               "Do the pilot vacancies represent the central government?",
               "9. Methodological reflection"],
    }[lang]  # fmt: skip
    # in this order from the chapter's heading on (chapter 2 may use the same words)
    start = text.index(headings[0])
    positions = [text.index(h, start) for h in headings]
    assert positions == sorted(positions)
    # the procedure of the open answers is printed as the plan declares it
    assert "Twee codeurs van het onderzoeksbureau" in text
    # a suppressed theme count shows as "×", never as the number
    assert "×" in text
    assert "built-in method" not in text


def test_no_cell_of_the_coder_columns_reaches_the_results(results: dict[str, Any]) -> None:
    # the bundle holds theme codes only, and the results count them: no coder's cell with
    # more than one code ("clarity;speed") is copied into results.json
    survey = pd.read_csv(SYNTHETIC / "survey.csv", dtype=str)
    cells = {c for col in ("coder_a", "coder_b") for c in survey[col].dropna() if ";" in c}
    assert cells
    text = json.dumps(results)
    assert not any(f'"{c}"' in text for c in cells)


def _without(tmp_path: Path, *tables: str) -> Path:
    data = tmp_path / "data"
    shutil.copytree(SYNTHETIC, data)
    for t in tables:
        (data / f"{t}.csv").unlink()
    return data


def test_a_section_is_left_out_cleanly_when_its_table_is_absent(tmp_path: Path) -> None:
    results = _results(_without(tmp_path, "survey", "population"))
    ev = results["evidence"]
    assert {s["table"] for s in ev["skipped"]} == {"survey", "population"}
    assert "survey" not in ev
    assert "representativeness" not in ev
    assert "interview_quality" in ev
    assert "committee_training" in ev
    r7 = [r for r in results["robustness"] if r["specification"] == "R7"]
    assert {r["verdict"] for r in r7} == {"not_estimable"}
    for lang in ("nl", "en"):
        text = render(Results.model_validate(results), lang, "md", "pilot-eval run")  # type: ignore[arg-type]
        assert "Enquête onder sollicitanten" not in text
        assert "Applicant survey" not in text
        assert "survey, population" in text


def test_no_section_when_the_plan_declares_none(tmp_path: Path) -> None:
    results = _results(_without(tmp_path, *OPTIONAL))
    text = render(Results.model_validate(results), "en", "md", "pilot-eval run")  # type: ignore[arg-type]
    # declared but all absent: the section is a note only
    assert "Reliability of the interview ratings" not in text
    assert "interview_ratings, survey, committee_training, population" in text
    # a plan that declares none: what a run publishes then has no section and skips none
    results["evidence"] = {"skipped": [], "suppressed_cells": 0}
    text = render(Results.model_validate(results), "en", "md", "pilot-eval run")  # type: ignore[arg-type]
    assert "Other evidence" not in text
    assert "8. Methodological reflection" in text


def _write(data: Path, name: str, text: str) -> None:
    (data / f"{name}.csv").write_text(text, encoding="utf-8")


def test_optional_tables_are_validated_with_every_problem(tmp_path: Path) -> None:
    data = _without(tmp_path, *OPTIONAL)
    _write(
        data,
        "committee_training",
        "department,year,members_required,members_trained\n"
        "AZ,2023,10,12\nAZ,2023,10,5\nBZ,1800,5,5\n",
    )
    _write(
        data,
        "survey",
        "application_id,responded,answered,fairness_1,fairness_2,fairness_3,"
        "clarity_1,clarity_2,coder_a,coder_b\n"
        "A000001,true,true,3,9,3,3,3,clarity,speeed\nA999999,maybe,false,,,,,,,\n",
    )
    _write(
        data,
        "interview_ratings",
        "application_id,rater_id,criterion,score\nA000003,R1,C1,5\nA000003,R1,C1,6\n",
    )
    _write(
        data, "population", "department,function_family,salary_scale,vacancies\nAZ,beleid,20,3\n"
    )
    plan = load_plan(PLAN).plan
    with pytest.raises(DataValidationError) as info:
        load_bundle(data, plan)
    found = {(p.file, p.row, p.column) for p in info.value.problems}
    assert ("committee_training.csv", 4, "year") in found  # 1800 out of range
    assert ("survey.csv", 2, "fairness_2") in found  # 9 outside the Likert range
    assert ("survey.csv", 3, "responded") in found  # not a boolean
    assert ("population.csv", 2, "salary_scale") in found
    rules = " ".join(p.rule for p in info.value.problems)
    # the rules between rows are checked only when every column is valid: fix and re-run
    data2 = _without(tmp_path / "second", *OPTIONAL)
    _write(
        data2,
        "committee_training",
        "department,year,members_required,members_trained\nAZ,2023,10,12\nAZ,2023,10,5\n",
    )
    _write(
        data2,
        "survey",
        "application_id,responded,answered,fairness_1,fairness_2,fairness_3,"
        "clarity_1,clarity_2,coder_a,coder_b\n"
        "A000001,true,true,3,3,3,3,3,clarity,speeed\nA999999,false,false,,,,,,,\n",
    )
    _write(
        data2,
        "interview_ratings",
        "application_id,rater_id,criterion,score\nA000003,R1,C1,5\nA000003,R1,C1,6\n",
    )
    with pytest.raises(DataValidationError) as info2:
        load_bundle(data2, plan)
    problems = {(p.file, p.row, p.column): p.rule for p in info2.value.problems}
    assert (
        "more members trained than required"
        in problems[("committee_training.csv", 2, "members_trained")]
    )
    assert "already has a row" in problems[("committee_training.csv", 3, "year")]
    assert "not in the plan's codebook" in problems[("survey.csv", 2, "coder_b")]
    assert "no application with this id" in problems[("survey.csv", 3, "application_id")]
    assert "already rated" in problems[("interview_ratings.csv", 3, "rater_id")]
    assert rules  # the first round named its problems


def test_gap_varying_with_a_vacancy_column_equals_ols_with_dummies(plan: AnalysisPlan) -> None:
    bundle = load_bundle(SYNTHETIC, plan)
    frame = analysis_frame(bundle, plan)
    h = next(x for x in plan.hypotheses if x.id == "H2").model_copy(
        update={"adjust_for": ("committee_trained",)}
    )
    sample = comparison_sample(frame, plan, h)
    got = estimate("lpm_fe", sample, Context(plan, h))
    f = sample.frame
    focal = f["focal"].to_numpy(float)
    pilot = (f["arm"] == "pilot").to_numpy(float)
    trained = f["committee_trained"].astype(bool).to_numpy(float)
    y = f["success"].to_numpy(float) if "success" in f else f["reached_invited"].to_numpy(float)
    dummies = pd.get_dummies(f["vacancy_id"].astype(str), dtype=float)
    x = np.column_stack([focal, focal * pilot, focal * (trained - trained.mean()), dummies])
    groups = pd.factorize(f["vacancy_id"].astype(str))[0]
    fit = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert got.estimate == pytest.approx(fit.params[1], abs=1e-10)
    # CR1 with K = 3 (vacancy effects nested in the clusters are not counted), as the
    # contract defines it; statsmodels counts the dummies in K, so rescale its factor
    n, g = len(y), dummies.shape[1]
    k_sm = x.shape[1]
    se_sm = float(np.sqrt(fit.cov_params()[1, 1]))
    se_contract = se_sm * np.sqrt((n - k_sm) / (n - 3))
    assert got.std_error == pytest.approx(se_contract, rel=1e-8)
    assert got.details["gap_varies_with"] == ["committee_trained"]
    assert g == got.n_vacancies


def test_population_weights_reproduce_the_population_margins(plan: AnalysisPlan) -> None:
    bundle = load_bundle(SYNTHETIC, plan)
    population = bundle.table("population")
    assert population is not None
    weights, summary = population_weights(bundle.vacancies, population, plan, ("control", "pilot"))
    vac = bundle.vacancies.assign(w=bundle.vacancies["vacancy_id"].map(weights))
    pop_share = population.groupby("department")["vacancies"].sum()
    pop_share = pop_share / pop_share.sum()
    for arm in ("control", "pilot"):
        part = vac[vac["arm"] == arm]
        share = part.groupby("department")["w"].sum() / part["w"].sum()
        assert share.to_dict() == pytest.approx(pop_share.reindex(share.index).to_dict(), abs=1e-8)
        assert part["w"].mean() == pytest.approx(1.0)
        assert summary["arms"][arm]["design_effect"] > 1


def test_training_compliance_by_hand(plan: AnalysisPlan) -> None:
    table = pd.DataFrame(
        {
            "department": ["A", "A", "B", "B", "A"],
            "year": [2018, 2023, 2023, 2024, 2024],
            "members_required": [10, 20, 30, 40, 50],
            "members_trained": [1, 10, 15, 30, 25],
        }
    )
    plan = plan.model_copy(
        update={"committee_training": plan.committee_training.model_copy(update={"years": 2})}  # type: ignore[union-attr]
    )
    got = training_section(table, plan)
    assert got["years"] == [2023, 2024]
    assert got["rows_before"] == 1
    # 2023: (10 + 15) / (20 + 30); 2024: (30 + 25) / (40 + 50)
    assert [r["compliance"] for r in got["overall"]] == pytest.approx([25 / 50, 55 / 90])
    assert got["missing"] == []


def test_no_small_count_and_no_single_hidden_cell_in_a_partition(results: dict[str, Any]) -> None:
    ev = results["evidence"]
    min_cell = results["plan"]["disclosure"]["min_cell"]
    training = ev["committee_training"]
    for year in training["years"]:
        rows = [r for r in training["by_department"] if r["year"] == year]
        for key in ("members_trained", "members_required"):
            values = [r[key] for r in rows]
            assert all(v is None or v == 0 or v >= min_cell for v in values)
            # a single hidden department would follow from the total of all departments
            assert sum(v is None for v in values) != 1, (year, key)
    # AZ trains fewer than ten members a year in the synthetic data: hidden, with a partner
    assert any(r["members_trained"] is None for r in training["by_department"])
    for (arm, by), rows in _response_parts(ev["survey"]["response"]).items():
        for key in ("responded", "n"):
            values = [r[key] for r in rows]
            assert all(v is None or v == 0 or v >= min_cell for v in values)
            assert sum(v is None for v in values) != 1, (arm, by, key)
    assert ev["suppressed_cells"] > 0


def _response_parts(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["by"] != "all":
            parts.setdefault((r["arm"], r["by"]), []).append(r)
    return parts


def test_a_population_raking_that_fails_makes_r7_not_estimable(tmp_path: Path) -> None:
    data = _without(tmp_path)
    vac = pd.read_csv(data / "vacancies.csv", dtype=str, keep_default_na=False)
    pilot_dji = (vac["arm"] == "pilot") & (vac["department"] == "DJI")
    vac.loc[pilot_dji, "salary_scale"] = "18"
    vac.to_csv(data / "vacancies.csv", index=False)
    population = pd.read_csv(data / "population.csv")
    extra = pd.DataFrame(
        {"department": ["DJI"], "function_family": ["uitvoering"], "salary_scale": [8],
         "vacancies": [5000]}
    )  # fmt: skip
    pd.concat([population, extra]).to_csv(data / "population.csv", index=False)
    results = _results(data)
    r7 = [r for r in results["robustness"] if r["specification"] == "R7"]
    assert {r["verdict"] for r in r7} == {"not_estimable"}
    assert all(r["reason"].startswith("population weights: raking did not converge") for r in r7)
    assert [h["verdict"] for h in results["hypotheses"]]  # the run went on
