"""Tests of the synthetic bundle generator."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilot_eval.design.simulate import SyntheticBundle, simulate_bundle, write_bundle
from pilot_eval.errors import PilotEvalError

VACANCY_COLUMNS = [
    "vacancy_id",
    "department",
    "function_family",
    "salary_scale",
    "managerial",
    "opened_on",
    "block",
    "arm",
    "inclusive_text",
    "anonymous_questionnaire",
    "structured_interview",
    "committee_trained",
]
APPLICATION_COLUMNS = [
    "application_id",
    "vacancy_id",
    "origin",
    "gender",
    "age_band",
    "disability",
    "stage_reached",
    "withdrew",
    "questionnaire_score",
    "interview_score",
]
STAGES = ["applied", "invited", "interviewed", "offered", "hired"]
FILES = [
    "vacancies.csv",
    "applications.csv",
    "truth.json",
    "interview_ratings.csv",
    "survey.csv",
    "committee_training.csv",
    "population.csv",
]


@pytest.fixture(scope="module")
def bundle() -> SyntheticBundle:
    return simulate_bundle()


@pytest.fixture(scope="module")
def large() -> SyntheticBundle:
    # Larger than the default so that sampling noise is well inside the tolerances.
    return simulate_bundle(n_vacancies=2000)


def _write(bundle: SyntheticBundle, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    paths = write_bundle(bundle, folder)
    assert [p.name for p in paths] == FILES
    return {p.name: p.read_bytes() for p in paths}


def _with_arm(b: SyntheticBundle) -> pd.DataFrame:
    return b.applications.merge(b.vacancies[["vacancy_id", "arm"]], on="vacancy_id")


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    first = _write(simulate_bundle(seed=7), tmp_path / "first")
    second = _write(simulate_bundle(seed=7), tmp_path / "second")
    assert first == second


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    first = _write(simulate_bundle(seed=7), tmp_path / "first")
    second = _write(simulate_bundle(seed=8), tmp_path / "second")
    for name in FILES:
        assert first[name] != second[name]


def test_csv_format(tmp_path: Path, bundle: SyntheticBundle) -> None:
    files = _write(bundle, tmp_path / "out")
    vacancies = files["vacancies.csv"].decode("utf-8")
    applications = files["applications.csv"].decode("utf-8")
    assert "\r" not in vacancies
    assert "\r" not in applications
    assert vacancies.splitlines()[0] == ",".join(VACANCY_COLUMNS)
    assert applications.splitlines()[0] == ",".join(APPLICATION_COLUMNS)
    first = vacancies.splitlines()[1].split(",")
    assert set(first[8:]) <= {"true", "false"}
    cells = set(applications.replace("\n", ",").split(","))
    assert not {"True", "False", "nan", "NaN", "<NA>"} & cells
    read = pd.read_csv(tmp_path / "out" / "applications.csv", keep_default_na=False, dtype=str)
    scores = read["interview_score"][read["interview_score"] != ""]
    assert scores.str.fullmatch(r"\d+\.\d").all()
    truth_text = files["truth.json"].decode("utf-8")
    assert truth_text.endswith("}\n")
    assert json.loads(truth_text) == bundle.truth


def test_write_bundle_needs_existing_folder(tmp_path: Path, bundle: SyntheticBundle) -> None:
    with pytest.raises(PilotEvalError, match="does not exist"):
        write_bundle(bundle, tmp_path / "missing")


@pytest.mark.parametrize(("seed", "n"), [(-1, 240), (1, 0), (1, True)])
def test_invalid_arguments(seed: int, n: int) -> None:
    with pytest.raises(PilotEvalError):
        simulate_bundle(seed=seed, n_vacancies=n)


def test_schema(bundle: SyntheticBundle) -> None:
    vac, app = bundle.vacancies, bundle.applications
    assert list(vac.columns) == VACANCY_COLUMNS
    assert list(app.columns) == APPLICATION_COLUMNS
    assert len(vac) == 240
    assert vac["vacancy_id"].is_unique
    assert app["application_id"].is_unique
    assert vac["vacancy_id"].iloc[0] == "V0001"
    assert app["application_id"].iloc[0] == "A000001"
    assert app["vacancy_id"].isin(vac["vacancy_id"]).all()
    assert vac["salary_scale"].between(4, 14).all()
    assert set(vac["arm"]) == {"control", "pilot"}
    assert pd.to_datetime(vac["opened_on"]).between("2023-10-01", "2024-09-30").all()
    assert set(app["stage_reached"].dropna()) <= set(STAGES)
    assert app["stage_reached"].notna().all()
    assert set(app["origin"].dropna()) == {"netherlands", "europe", "outside_europe"}
    assert set(app["gender"].dropna()) == {"female", "male", "other"}
    assert set(app["age_band"].dropna()) == {"<30", "30-44", "45-54", "55+"}


def test_blocks(bundle: SyntheticBundle) -> None:
    blocks = bundle.vacancies.groupby("block")
    assert (blocks["arm"].agg(lambda arm: (arm == "pilot").sum()) >= 1).all()
    assert (blocks[["department", "function_family"]].nunique() == 1).all().all()
    assert (blocks.size() == 3).all()


@pytest.mark.parametrize(("n", "sizes"), [(4, [4]), (5, [3, 2]), (7, [3, 4])])
def test_remainder_blocks(n: int, sizes: list[int]) -> None:
    vac = simulate_bundle(seed=3, n_vacancies=n).vacancies
    blocks = vac.groupby("block", sort=True)
    assert blocks.size().tolist() == sizes
    assert (blocks["arm"].agg(lambda arm: (arm == "pilot").sum()) == 1).all()


def test_about_a_third_pilot(bundle: SyntheticBundle) -> None:
    share = (bundle.vacancies["arm"] == "pilot").mean()
    assert share == pytest.approx(1 / 3, abs=0.02)
    assert bundle.truth["n_pilot_vacancies"] == (bundle.vacancies["arm"] == "pilot").sum()


def test_fidelity_and_scores(bundle: SyntheticBundle) -> None:
    vac = bundle.vacancies
    interventions = vac[["inclusive_text", "anonymous_questionnaire", "structured_interview"]]
    assert not interventions[vac["arm"] == "control"].any().any()
    assert interventions[vac["arm"] == "pilot"].to_numpy().mean() > 0.9
    app = bundle.applications.merge(vac, on="vacancy_id")
    has_questionnaire = app["questionnaire_score"].notna()
    assert (has_questionnaire == app["anonymous_questionnaire"]).all()
    assert app["questionnaire_score"].dropna().between(0, 100).all()
    interviewed = app["stage_reached"].isin(["interviewed", "offered", "hired"])
    assert (app["interview_score"].notna() == interviewed).all()
    assert app["interview_score"].dropna().between(1, 10).all()
    assert not app.loc[app["stage_reached"] == "hired", "withdrew"].any()
    assert 0.02 < app["withdrew"].mean() < 0.08


def test_demographics_missing_share(bundle: SyntheticBundle) -> None:
    for column in ["origin", "gender", "age_band", "disability"]:
        assert 0.15 <= bundle.applications[column].isna().mean() <= 0.25, column


def test_applications_per_vacancy(bundle: SyntheticBundle) -> None:
    counts = bundle.applications["vacancy_id"].value_counts()
    assert counts.min() >= 5
    assert 80 < counts.mean() < 130
    assert counts.var() > 2 * counts.mean()  # overdispersed
    assert bundle.truth["n_applications"] == len(bundle.applications)


def test_truth(bundle: SyntheticBundle) -> None:
    truth = bundle.truth
    assert truth["seed"] == 20240901
    assert truth["n_vacancies"] == 240
    effects = {e["id"]: e for e in truth["effects"]}
    assert effects["pool_share/origin/pilot"]["value"] == 0.03
    assert effects["pool_share/disability/pilot"]["value"] == 0.0
    assert effects["stage_gap/origin/control/applied->invited"]["value"] == -0.08
    assert effects["stage_gap/origin/pilot/applied->invited"]["value"] == -0.01
    assert effects["gap_difference/origin/pilot/applied->invited"]["value"] == 0.07
    assert effects["gap_difference/origin/pilot/interviewed->offered"]["value"] == 0.04
    assert effects["stage_gap/origin/control/applied->invited"]["stage"] == {
        "from": "applied",
        "to": "invited",
    }
    assert "gap_difference/gender/pilot/applied->invited" in truth["nulls"]
    assert set(truth["nulls"]) == {k for k, e in effects.items() if e["value"] == 0.0}
    assert json.loads(json.dumps(truth)) == truth


def test_pool_share_effect(large: SyntheticBundle) -> None:
    app = _with_arm(large)
    known = app[app["origin"].notna()]
    share = (known["origin"] == "outside_europe").groupby(known["arm"]).mean()
    assert share["pilot"] - share["control"] == pytest.approx(0.03, abs=0.01)


def test_control_invitation_gap(large: SyntheticBundle) -> None:
    app = _with_arm(large)
    control = app[app["arm"] == "control"]
    invited = control["stage_reached"] != "applied"
    rate = invited.groupby(control["origin"], observed=True).mean()
    assert rate["outside_europe"] - rate["netherlands"] == pytest.approx(-0.08, abs=0.02)


def test_gender_gap_is_null(large: SyntheticBundle) -> None:
    app = _with_arm(large)
    invited = app["stage_reached"] != "applied"
    rate = invited.groupby(app["gender"], observed=True).mean()
    assert rate["female"] - rate["male"] == pytest.approx(0.0, abs=0.02)
    assert np.isfinite(rate.to_numpy()).all()
