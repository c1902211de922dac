"""The disclosure audit: every published relation of a group solved as an attacker would.

Each bundle is the shipped synthetic one with a small cell of one group in the pilot arm.
The true counts an attacker is after are taken from the bundle's csv, not from pilot-eval.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pilot_eval.plan.model import STAGES, AnalysisPlan, load_plan
from pilot_eval.privacy import audit as audit_module
from pilot_eval.privacy.audit import audit
from tests.privacy.test_privacy_attacks import PLAN, run_results, small_cell_bundle
from tests.test_cli import run_cli

CASES = {
    # column: (small value, the value the others get, how many keep the small value)
    "origin": ("outside_europe", "netherlands", 3),
    "age_band": ("55+", "30-44", 2),
    "disability": ("true", "false", 3),
}


@pytest.fixture(scope="module")
def example_plan() -> AnalysisPlan:
    return load_plan(PLAN).plan


@pytest.fixture(scope="module", params=sorted(CASES))
def small(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    column = request.param
    value, other, n = CASES[column]
    folder = small_cell_bundle(tmp_path_factory.mktemp(column), column, value, other, n)
    return column, folder, run_results(folder)


def _true_reached(folder: Path, column: str, value: str) -> dict[str, int]:
    """Pilot applicants with ``value`` reaching each stage, counted from the csv."""
    vacancies = pd.read_csv(folder / "vacancies.csv", dtype=str, keep_default_na=False)
    pilot = set(vacancies.loc[vacancies["arm"] == "pilot", "vacancy_id"])
    apps = pd.read_csv(folder / "applications.csv", dtype=str, keep_default_na=False)
    mine = apps[apps["vacancy_id"].isin(pilot) & (apps[column] == value)]
    last = mine["stage_reached"].map(STAGES.index)
    return {s: int((last >= i).sum()) for i, s in enumerate(STAGES)}


def test_no_hidden_count_of_any_group_can_be_narrowed_down(
    small: Any, example_plan: AnalysisPlan
) -> None:
    column, _, results = small
    value, _, _ = CASES[column]
    assert results["descriptives"]["arms"]["pilot"]["demographics"][column]["counts"][value] is None
    assert audit(results, example_plan) == []


def test_the_audit_finds_the_cell_when_its_complement_is_published(
    small: Any, example_plan: AnalysisPlan
) -> None:
    """Publishing the reference count of the pilot arm gives the small cell away (with the
    applications a pilot-only or both-arm hypothesis used); the audit pins it exactly."""
    column, folder, results = small
    value, other, n = CASES[column]
    leaked = copy.deepcopy(results)
    counts = leaked["descriptives"]["arms"]["pilot"]["demographics"][column]["counts"]
    counts[other] = _true_reached(folder, column, other)["applied"]
    found = {e.cell: e for e in audit(leaked, example_plan)}
    cell = found[f"pilot, {column} {value}"]
    assert (cell.low, cell.high) == (n, n)
    assert cell.arm == "pilot"


def test_the_audit_solves_published_rates(small: Any, example_plan: AnalysisPlan) -> None:
    """A rate and its count give the base: the reference side's share invited and the
    number invited give the reference applicants, and with them the small cell."""
    column, folder, results = small
    value, other, n = CASES[column]
    if column != "disability":
        pytest.skip("the other groups' reference side holds one value of several")
    truth = _true_reached(folder, column, other)
    leaked = copy.deepcopy(results)
    group = next(g for g, x in leaked["descriptives"]["funnel"].items() if x["column"] == column)
    reference = leaked["descriptives"]["funnel"][group]["arms"]["pilot"]["sides"]["reference"]
    reference["reached"]["invited"] = truth["invited"]
    reference["share_of_applicants"]["invited"] = truth["invited"] / truth["applied"]
    assert audit(results, example_plan) == []
    cells = {e.cell: (e.low, e.high) for e in audit(leaked, example_plan)}
    assert cells[f"pilot, {column} {value}"] == (n, n)


def test_a_group_of_several_values_has_its_pilot_tables_withheld(small: Any) -> None:
    """For origin and age band, the hypotheses' ledgers publish the values that are neither
    focal nor reference: the pilot arm's table of the column is withheld whole."""
    column, _, results = small
    arms = results["descriptives"]["arms"]
    shown = arms["control"]["demographics"][column]["counts"]
    assert all(v is not None for v in shown.values())
    if column == "disability":
        return
    hidden = arms["pilot"]["demographics"][column]["counts"]
    assert all(v is None for v in hidden.values()), hidden
    assert arms["pilot"]["demographics"][column]["not_reported_share"] is None


def test_a_run_that_would_give_a_cell_away_writes_nothing(
    small: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """When withholding tables does not protect the cell, the run stops: exit 2, the
    cells named without their values, no output folder."""
    column, folder, _ = small
    if column != "origin":
        pytest.skip("one group suffices")
    monkeypatch.setattr(audit_module, "_withhold", lambda *args: 0)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", str(PLAN), "--data", str(folder), "--out", str(out)], capsys)
    assert code == 2
    assert "can be derived from the published ones" in err
    assert "pilot, origin outside_europe" in err
    assert "Traceback" not in err
    assert not out.exists()
