"""The open-data export: k-anonymity of the published files, no original ids, no free text,
the remaining risk, and the plan's results on the open data next to the original."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pilot_eval.cli import main
from pilot_eval.data.bundle import load_bundle
from pilot_eval.design.simulate import simulate_bundle, write_bundle
from pilot_eval.plan.model import Disclosure, load_plan
from pilot_eval.privacy.opendata import MISSING, QuasiIdentifiers, anonymise, risk

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
QUASI_IDENTIFIERS = [
    "department",
    "function_family",
    "salary_scale",
    "salary_band",
    "managerial",
    "age_band",
    "gender",
    "origin",
    "disability",
]
FREE_TEXT = "Ik solliciteer omdat ik graag bij de Rijksoverheid werk"


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), out, err


def _smallest_class(folder: Path, columns: list[str]) -> int:
    """The smallest combination of ``columns`` among the published applications, computed
    from the files alone (an empty cell is a value of its own)."""
    vac = pd.read_csv(folder / "vacancies.csv", dtype=str, keep_default_na=False)
    apps = pd.read_csv(folder / "applications.csv", dtype=str, keep_default_na=False)
    joined = apps.merge(vac, on="vacancy_id", how="left", validate="m:1")
    return int(joined.groupby(columns).size().min())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plan, its lock and the synthetic bundle with a free-text column added."""
    folder = tmp_path_factory.mktemp("open")
    (folder / "plans").mkdir()
    shutil.copy(PLAN, folder / "plans")
    shutil.copy(PLAN.with_name("breed-werven-2024.lock.json"), folder / "plans")
    shutil.copytree(ROOT / "data" / "synthetic", folder / "data")
    apps = pd.read_csv(folder / "data" / "applications.csv", dtype=str, keep_default_na=False)
    apps["motivation"] = FREE_TEXT
    apps.to_csv(folder / "data" / "applications.csv", index=False, lineterminator="\n")
    return folder


@pytest.fixture(scope="module")
def exported(workspace: Path) -> Path:
    """One export of the synthetic bundle, in English."""
    import os

    here = Path.cwd()
    os.chdir(workspace)
    args = ["export-open-data", "plans/breed-werven-2024.yaml", "--data", "data"]
    try:
        with pytest.raises(SystemExit) as info:
            main([*args, "--out", "open", "--lang", "en"])
        assert info.value.code == 0
    finally:
        os.chdir(here)
    return workspace / "open"


def test_every_combination_of_quasi_identifiers_occurs_k_times(exported: Path) -> None:
    k = load_plan(PLAN).plan.disclosure.k_anonymity
    assert _smallest_class(exported, QUASI_IDENTIFIERS) >= k
    summary = json.loads((exported / "disclosure.json").read_text(encoding="utf-8"))
    assert summary["protection"]["risk"]["smallest_class"] >= k
    assert summary["protection"]["risk"]["k_satisfied"] is True


def test_no_original_identifier_and_no_free_text(exported: Path, workspace: Path) -> None:
    original_vac = pd.read_csv(workspace / "data" / "vacancies.csv", dtype=str)
    original_apps = pd.read_csv(workspace / "data" / "applications.csv", dtype=str)
    vac = pd.read_csv(exported / "vacancies.csv", dtype=str)
    apps = pd.read_csv(exported / "applications.csv", dtype=str)
    assert not set(vac["vacancy_id"]) & set(original_vac["vacancy_id"])
    assert not set(vac["block"]) & set(original_vac["block"])
    assert not set(apps["application_id"]) & set(original_apps["application_id"])
    assert "motivation" not in apps.columns
    assert "opened_on" not in vac.columns  # exact dates single out a vacancy
    for path in exported.iterdir():
        assert FREE_TEXT not in path.read_text(encoding="utf-8"), path.name
    summary = json.loads((exported / "disclosure.json").read_text(encoding="utf-8"))
    assert summary["protection"]["columns_not_published"] == ["motivation", "opened_on"]


def test_links_and_outcomes_survive(exported: Path, workspace: Path) -> None:
    original_apps = pd.read_csv(workspace / "data" / "applications.csv", dtype=str)
    original_vac = pd.read_csv(workspace / "data" / "vacancies.csv", dtype=str)
    apps = pd.read_csv(exported / "applications.csv", dtype=str)
    vac = pd.read_csv(exported / "vacancies.csv", dtype=str)
    assert len(apps) == len(original_apps)
    assert len(vac) == len(original_vac)
    # applications per vacancy and stages reached are published as they were
    sizes = sorted(apps.groupby("vacancy_id").size().tolist())
    assert sizes == sorted(original_apps.groupby("vacancy_id").size().tolist())
    stages = apps["stage_reached"].value_counts().to_dict()
    assert stages == original_apps["stage_reached"].value_counts().to_dict()
    # salary_scale holds the lowest scale of the published band
    low = vac["salary_band"].str.split("-").str[0]
    assert (low == vac["salary_scale"]).all()


def test_open_data_run_under_the_same_plan_and_are_compared(exported: Path) -> None:
    summary = json.loads((exported / "disclosure.json").read_text(encoding="utf-8"))
    plan = load_plan(PLAN).plan
    assert [c["hypothesis"] for c in summary["comparison"]] == [h.id for h in plan.hypotheses]
    for row in summary["comparison"]:
        assert row["original"]["estimate"] is not None
        assert row["open_data"]["estimate"] is not None
        diff = row["open_data"]["estimate"] - row["original"]["estimate"]
        assert row["difference"] == pytest.approx(diff)
    # the export is a valid bundle of the plan: it loads without a problem
    bundle = load_bundle(exported, plan)
    assert len(bundle.applications) == summary["open_data"]["n_applications"]
    report = (exported / "export-report.en.md").read_text(encoding="utf-8")
    assert "## 3. What anonymisation costs" in report
    assert "| **H1** · " in report


def test_manifest_names_every_output(exported: Path) -> None:
    import hashlib

    manifest = json.loads((exported / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"][:2] == ["pilot-eval", "export-open-data"]
    assert sorted(manifest["outputs"]) == sorted(
        p.name for p in exported.iterdir() if p.name != "manifest.json"
    )
    for name, digest in manifest["outputs"].items():
        assert hashlib.sha256((exported / name).read_bytes()).hexdigest() == digest


def test_two_exports_are_byte_identical(
    exported: Path,
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(workspace)
    args = ["export-open-data", "plans/breed-werven-2024.yaml", "--data", "data"]
    code, _, err = _cli([*args, "--out", "again", "--lang", "en"], capsys)
    assert code == 0, err
    for path in exported.iterdir():
        if path.name == "manifest.json":  # names its own --out; its hashes are compared below
            continue
        # the command line in the report names its own --out
        again = (
            (workspace / "again" / path.name).read_bytes().replace(b"--out again", b"--out open")
        )
        assert again == path.read_bytes(), path.name
    first = json.loads((exported / "manifest.json").read_text(encoding="utf-8"))
    second = json.loads((workspace / "again" / "manifest.json").read_text(encoding="utf-8"))
    assert first["inputs"] == second["inputs"]
    assert first["outputs"]["applications.csv"] == second["outputs"]["applications.csv"]
    # an existing output folder is not replaced without --force
    code, _, err = _cli([*args, "--out", "again"], capsys)
    assert code == 2
    assert "--force" in err


def test_dutch_report_and_counts_under_the_minimum(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace)
    args = ["export-open-data", "plans/breed-werven-2024.yaml", "--data", "data", "--out", "nl"]
    code, out, err = _cli(args, capsys)
    assert code == 0, err
    assert "smallest class" in out
    report = (workspace / "nl" / "export-report.nl.md").read_text(encoding="utf-8")
    assert "## 2. Resterend risico" in report
    html = (workspace / "nl" / "export-report.nl.html").read_text(encoding="utf-8")
    assert '<html lang="nl">' in html
    summary = json.loads((workspace / "nl" / "disclosure.json").read_text(encoding="utf-8"))
    for row in summary["protection"]["local_suppression"]:
        for key in ("suppressed", "missing_before"):
            assert row[key] is None or row[key] == 0 or row[key] >= 10
        # their sum can be counted in the file: one hidden means both hidden
        assert (row["suppressed"] is None) == (row["missing_before"] is None)


# --------------------------------------------------------------------------------------
# a bundle built to be hard: every vacancy its own department


def _hard_bundle(tmp_path: Path) -> Path:
    """60 vacancies, each of its own department; every third vacancy keeps only its first
    two applications, so that many departments hold fewer than k applicants."""
    synthetic = simulate_bundle(seed=7, n_vacancies=60)
    vac = synthetic.vacancies.copy()
    vac["department"] = [f"D{i:02d}" for i in range(len(vac))]
    rng = np.random.default_rng(3)
    vac["function_family"] = rng.choice(["beleid", "ICT", "juridisch", "uitvoering", "HR"], 60)
    apps = synthetic.applications
    small = set(vac["vacancy_id"].iloc[::3])
    rank = apps.groupby("vacancy_id").cumcount()
    apps = apps[~apps["vacancy_id"].isin(small) | (rank < 2)].reset_index(drop=True)
    folder = tmp_path / "hard"
    folder.mkdir()
    write_bundle(type(synthetic)(vac, apps, synthetic.truth), folder)
    return folder


@pytest.mark.parametrize("k", [5, 10, 25])
def test_hard_bundle_many_small_departments(tmp_path: Path, k: int) -> None:
    plan = load_plan(PLAN).plan
    plan = plan.model_copy(update={"disclosure": Disclosure(min_cell=10, k_anonymity=k)})
    bundle = load_bundle(_hard_bundle(tmp_path), plan)
    opened = anonymise(bundle, plan)
    out = tmp_path / "out"
    out.mkdir()
    opened.vacancies.to_csv(out / "vacancies.csv", index=False)
    opened.applications.to_csv(out / "applications.csv", index=False)
    assert _smallest_class(out, QUASI_IDENTIFIERS) >= k
    departments = [r for r in opened.protection.recodings if r.column == "department"]
    assert departments  # small departments were recoded
    assert (opened.vacancies["department"] == "other").any()
    assert opened.protection.risk["smallest_class"] >= k


def test_declared_quasi_identifier_is_protected_and_checked(tmp_path: Path) -> None:
    plan = load_plan(PLAN).plan
    folder = _hard_bundle(tmp_path)
    vac = pd.read_csv(folder / "vacancies.csv", dtype=str, keep_default_na=False)
    vac["region"] = [f"R{i % 7}" for i in range(len(vac))]
    vac.to_csv(folder / "vacancies.csv", index=False, lineterminator="\n")
    declared = Disclosure(min_cell=10, k_anonymity=10, quasi_identifiers=("region",))
    plan = plan.model_copy(update={"disclosure": declared})
    opened = anonymise(load_bundle(folder, plan), plan)
    assert "region" in opened.vacancies.columns
    out = tmp_path / "out"
    out.mkdir()
    opened.vacancies.to_csv(out / "vacancies.csv", index=False)
    opened.applications.to_csv(out / "applications.csv", index=False)
    assert _smallest_class(out, [*QUASI_IDENTIFIERS, "region"]) >= 10
    from pilot_eval.errors import DataValidationError

    for name, rule in (
        ("postcode", "in neither vacancies nor applications"),
        ("block", "identifiers are replaced"),
        ("stage_reached", "an outcome is not recoded"),
        ("opened_on", "never published"),
    ):
        wrong = Disclosure(quasi_identifiers=(name,))
        with pytest.raises(DataValidationError) as info:
            anonymise(load_bundle(folder, plan), plan.model_copy(update={"disclosure": wrong}))
        assert f"key 'disclosure.quasi_identifiers': value '{name}': " in info.value.report()
        assert rule in info.value.report()


def test_a_single_rare_department_does_not_stand_alone_as_other(tmp_path: Path) -> None:
    # one department with 3 applications: recoding it alone would make "other" name it
    synthetic = simulate_bundle(seed=11, n_vacancies=30)
    vac = synthetic.vacancies.copy()
    apps = synthetic.applications
    first = vac["vacancy_id"].iloc[0]
    vac.loc[0, "department"] = "KLEIN"
    rank = apps.groupby("vacancy_id").cumcount()
    apps = apps[(apps["vacancy_id"] != first) | (rank < 3)].reset_index(drop=True)
    folder = tmp_path / "one"
    folder.mkdir()
    write_bundle(type(synthetic)(vac, apps, synthetic.truth), folder)
    plan = load_plan(PLAN).plan
    opened = anonymise(load_bundle(folder, plan), plan)
    recoded = [r.values for r in opened.protection.recodings if r.column == "department"]
    assert len(recoded) == 1
    assert "KLEIN" in recoded[0]
    assert len(recoded[0]) >= 2


# --------------------------------------------------------------------------------------
# the risk measures on a hand-made example


def test_risk_by_hand() -> None:
    # two classes: (a, x) x3 with stages {applied, applied, invited}: l = 2;
    # (b, y) x2 with stages {hired, hired}: l = 1
    joined = pd.DataFrame(
        {"department": ["a", "a", "a", "b", "b"], "origin": ["x", "x", MISSING, "y", "y"]}
    )
    joined.loc[2, "origin"] = "x"
    outcome = pd.Series(["applied", "applied", "invited", "hired", "hired"])
    vacancy = pd.Series(["v1", "v1", "v2", "v3", "v3"])
    qi = QuasiIdentifiers(vacancy=("department",), application=("origin",))
    got = risk(joined, outcome, qi, 2, vacancy)
    assert got["classes"] == 2
    assert got["smallest_class"] == 2
    assert got["k_satisfied"] is True
    assert got["l_diversity"] == 1
    assert got["classes_with_one_outcome"] == 1
    assert got["applications_in_classes_with_one_outcome"] == 2
    # knowing the vacancy: (x, v2) holds one application, below k = 2
    assert got["applications_below_k_if_vacancy_known"] == 1


def test_bad_data_exits_2_and_writes_nothing(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copytree(workspace / "plans", tmp_path / "plans")
    shutil.copytree(workspace / "data", tmp_path / "data")
    apps = tmp_path / "data" / "applications.csv"
    lines = apps.read_text(encoding="utf-8").splitlines(keepends=True)
    row = next(i for i, line in enumerate(lines) if ",applied," in line)
    lines[row] = lines[row].replace(",applied,", ",rejected,", 1)
    apps.write_text("".join(lines), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    args = ["export-open-data", "plans/breed-werven-2024.yaml", "--data", "data", "--out", "x"]
    code, _, err = _cli(args, capsys)
    assert code == 2
    assert f"applications.csv, row {row + 1}, column 'stage_reached'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "x").exists()
    assert not list(tmp_path.glob(".x.partial-*"))


def test_a_score_outside_the_contract_is_published_unchanged(tmp_path: Path) -> None:
    plan = load_plan(PLAN).plan
    h6 = next(h for h in plan.hypotheses if h.kind == "score_gap")
    others = tuple(h for h in plan.hypotheses if h.id != h6.id)
    plan = plan.model_copy(
        update={"hypotheses": (*others, h6.model_copy(update={"score": "assessment"}))}
    )
    folder = _hard_bundle(tmp_path)
    apps = pd.read_csv(folder / "applications.csv", dtype=str, keep_default_na=False)
    apps["assessment"] = apps["questionnaire_score"]
    apps.to_csv(folder / "applications.csv", index=False, lineterminator="\n")
    bundle = load_bundle(folder, plan)
    opened = anonymise(bundle, plan)
    assert "assessment" not in opened.protection.risk["quasi_identifiers"]
    assert opened.applications["assessment"].notna().sum() == (
        bundle.applications["assessment"].notna().sum()
    )


def test_text_a_spreadsheet_would_run_as_a_formula_is_neutralised() -> None:
    from pilot_eval.data.files import csv_text

    frame = pd.DataFrame(
        {
            "department": ['=HYPERLINK("http://e.x")', "@SUM(A1)", "+cmd", "-x", "\tTAB", "BZK"],
            "score": [-0.5, 1.0, 2.0, 3.0, 4.0, 5.0],
            "code": ["-0.5", "+31", "BZK", None, "=1+1", "a=b"],
        }
    )
    rows = [line.split(",") for line in csv_text(frame, "%.12g").splitlines()[1:]]
    departments = [r[0].strip('"') for r in rows]
    assert departments == [
        '\'=HYPERLINK(""http://e.x"")',
        "'@SUM(A1)",
        "'+cmd",
        "'-x",
        "'\tTAB",
        "BZK",
    ]
    assert [r[1] for r in rows] == ["-0.5", "1", "2", "3", "4", "5"]  # numbers stay numbers
    assert [r[2] for r in rows] == ["-0.5", "+31", "BZK", "", "'=1+1", "a=b"]


def test_insider_risk_by_hand() -> None:
    from pilot_eval.privacy.opendata import insider_risk

    published = pd.DataFrame(
        {
            "vacancy_id": ["V1"] * 4 + ["V2"] * 3,
            "stage_reached": ["interviewed", "interviewed", "applied", "applied"] + ["applied"] * 3,
            "age_band": ["30-44"] * 7,
            "gender": ["female"] * 7,
            "origin": [
                "outside_europe",
                None,
                "netherlands",
                "outside_europe",
                "outside_europe",
                "outside_europe",
                "netherlands",
            ],
            "disability": pd.array([None] * 7, dtype="boolean"),
            "questionnaire_score": [55.0, 55.0, 61.0, None, 70.0, 71.0, 71.0],
            "interview_score": [6.5, 7.0, None, None, None, None, None],
        }
    )
    got = insider_risk(published, {"origin": frozenset({"outside_europe"})})
    # V1: (55, 6.5) and (55, 7.0) differ on the interview score, 61 stands alone: three
    # unique; the fourth has no score. V2: 70 alone; 71 twice.
    assert got["applications_unique_on_vacancy_and_scores"] == 4
    # V1 interviewed: one shows origin, outside Europe: the committee reads it. V1 applied:
    # netherlands and outside_europe: not determined. V2 applied: mixed: not determined.
    assert got["applications_sensitive_known_to_committee"] == 1
