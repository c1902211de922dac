"""Attacks on the published outputs, as an outsider with the public files would try them:
every one must recover nothing of a cell below the plan's minimum.

The bundle is the shipped synthetic one with disability reported by exactly three pilot
applicants (the small cell to protect)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.pipeline.run import evaluate, prepare_inputs

ROOT = Path(__file__).resolve().parents[2]
PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
SMALL = 3


def small_cell_bundle(folder: Path, column: str, value: str, other: str, n: int) -> Path:
    """The shipped synthetic bundle in ``folder`` with exactly ``n`` pilot applicants whose
    ``column`` is ``value`` (the others of the pilot arm get ``other``)."""
    import shutil

    import pandas as pd

    shutil.copytree(ROOT / "data" / "synthetic", folder, dirs_exist_ok=True)
    vacancies = pd.read_csv(folder / "vacancies.csv", dtype=str, keep_default_na=False)
    pilot = set(vacancies.loc[vacancies["arm"] == "pilot", "vacancy_id"])
    apps = pd.read_csv(folder / "applications.csv", dtype=str, keep_default_na=False)
    in_pilot = apps["vacancy_id"].isin(pilot)
    apps.loc[in_pilot & (apps[column] == value), column] = other
    chosen = apps.index[in_pilot & (apps[column] == other)][:n]
    apps.loc[chosen, column] = value
    apps.to_csv(folder / "applications.csv", index=False)
    return folder


def run_results(folder: Path) -> dict[str, Any]:
    """results.json of the example plan on ``folder``, as published."""
    inputs = prepare_inputs(PLAN, folder, False)
    return evaluate(inputs).json_form()


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """results.json of a run where exactly three pilot applicants report a disability."""
    folder = tmp_path_factory.mktemp("small-cell")
    return run_results(small_cell_bundle(folder, "disability", "true", "false", SMALL))


def _numbers(node: Any, path: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _numbers(v, f"{path}.{k}" if path else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        yield path, float(node)


def test_no_statistic_is_published_on_the_small_cell(attacked: dict[str, Any]) -> None:
    h8 = next(h for h in attacked["hypotheses"] if h["id"] == "H8")
    assert h8["verdict"] == "not_estimable"
    assert "fewer than" in h8["reason"]
    for name, e in h8["estimates"].items():
        assert e["estimate"] is None, name
        assert e["p_value"] is None, name
    assert h8["missing_data"] is None or h8["missing_data"]["lower"] is None
    for h in attacked["hypotheses"]:
        if h["group"] == "disability":
            assert h["estimate"] is None, h["id"]


def test_no_share_times_a_published_count_gives_the_small_cell(attacked: dict[str, Any]) -> None:
    """A share published with full precision times the count it is a share of gives the
    count back: no published share may rest on the small cell."""
    numbers = list(_numbers(attacked))
    shares = [(p, v) for p, v in numbers if 0 < v < 1 and "disab" in p.lower()]
    counts = {v for _, v in numbers if v >= 1 and float(v).is_integer()}
    found = [
        (p, v, n) for p, v in shares for n in counts if math.isclose(v * n, SMALL, abs_tol=1e-6)
    ]
    assert not found, found[:5]


def _arm_disability(results: dict[str, Any], arm: str) -> dict[str, Any]:
    return results["descriptives"]["arms"][arm]["demographics"]["disability"]


def test_the_small_cell_cannot_be_subtracted_from_margins_and_ledgers(
    attacked: dict[str, Any],
) -> None:
    """The chain of the review: arm total minus the other published cells of the arm,
    with the arm's missing values taken from the exclusion ledger (all arms) minus the
    control arm's. Every link must be missing or ambiguous."""
    pilot, control = _arm_disability(attacked, "pilot"), _arm_disability(attacked, "control")
    total = attacked["descriptives"]["arms"]["pilot"]["n_applications"]
    h8 = next(h for h in attacked["hypotheses"] if h["id"] == "H8")
    ledger = sum(e["rows"] for e in h8["exclusions"] if "not reported" in e["reason"])
    missing = ledger - control["counts"]["not_reported"]
    known = h8["n_applications"] - control["counts"]["true"] - control["counts"]["false"]
    assert missing + known == total  # the attacker has these
    # ... but the cells of the known answers are both hidden: true + false = known only
    assert pilot["counts"]["true"] is None
    assert pilot["counts"]["false"] is None
    funnel = attacked["descriptives"]["funnel"]["disability"]["arms"]["pilot"]["sides"]
    for side in ("focal", "reference"):
        assert funnel[side]["reached"]["applied"] is None
        # no share or rate whose count or base is hidden
        for rates in (funnel[side]["share_of_applicants"], funnel[side]["transition_rate"]):
            assert all(v is None for v in rates.values()), (side, rates)


def test_nobody_of_a_small_group_is_shown_to_have_failed_a_stage(attacked: dict[str, Any]) -> None:
    """'0 of them invited' discloses the outcome of each of the three."""
    funnel = attacked["descriptives"]["funnel"]["disability"]["arms"]["pilot"]["sides"]
    assert all(v is None for v in funnel["focal"]["reached"].values())


STAGES = ("applied", "invited", "interviewed", "offered", "hired")
SIDES = ("focal", "reference", "other")
VALUES = {"focal": "true", "reference": "false", "other": "not_reported"}


def _audit(results: dict[str, Any]) -> tuple[Any, Any, Any]:
    """The published linear relations of the disability tables as an attacker would set
    them up (tau-ARGUS style): unknowns are the applications by arm, side of the group and
    last stage reached; every published count of results.json that sums them is an
    equation. Returns (A_eq, b_eq, index of an arm-side-stage 'reached' count)."""
    import numpy as np

    arms = list(results["descriptives"]["arms"])
    n = len(arms) * len(SIDES) * len(STAGES)

    def var(a: int, side: int, last: int) -> int:
        return (a * len(SIDES) + side) * len(STAGES) + last

    def reached(a: int, side: int, stage: int) -> Any:
        row = np.zeros(n)
        for last in range(stage, len(STAGES)):
            row[var(a, side, last)] = 1
        return row

    rows, values = [], []

    def equation(row: Any, value: Any) -> None:
        if value is not None:
            rows.append(row)
            values.append(float(value))

    funnel = results["descriptives"]["funnel"]["disability"]["arms"]
    for a, arm in enumerate(arms):
        d = results["descriptives"]["arms"][arm]
        equation(sum(reached(a, j, 0) for j in range(3)), d["n_applications"])
        for i, stage in enumerate(STAGES):
            equation(sum(reached(a, j, i) for j in range(3)), d["reached"][stage])
        counts = d["demographics"]["disability"]["counts"]
        for j, side in enumerate(SIDES):
            equation(reached(a, j, 0), counts[VALUES[side]])
            for i, stage in enumerate(STAGES):
                equation(reached(a, j, i), funnel[arm]["sides"][side]["reached"][stage])
    h8 = next(h for h in results["hypotheses"] if h["id"] == "H8")
    both = range(len(arms))
    equation(sum(reached(a, 2, 0) for a in both), sum(e["rows"] for e in h8["exclusions"]))
    equation(sum(reached(a, j, 0) for a in both for j in (0, 1)), h8["n_applications"])
    return np.array(rows), np.array(values), (arms, reached)


def test_solving_every_published_relation_leaves_the_small_cell_open(
    attacked: dict[str, Any],
) -> None:
    from scipy.optimize import linprog

    a_eq, b_eq, (arms, reached) = _audit(attacked)
    pilot = arms.index("pilot")
    funnel = attacked["descriptives"]["funnel"]["disability"]["arms"]["pilot"]["sides"]
    min_cell = attacked["descriptives"]["min_cell"]
    checked = 0
    for j, side in enumerate(SIDES):
        for i, stage in enumerate(STAGES):
            if funnel[side]["reached"][stage] is not None:
                continue
            target = reached(pilot, j, i)
            low = linprog(target, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
            high = linprog(-target, A_eq=a_eq, b_eq=b_eq, bounds=(0, None))
            assert low.status == 0
            assert high.status == 0
            span = (low.fun, -high.fun)
            # the attacker cannot pin the cell down, nor tell it is small
            assert span[1] - span[0] >= min_cell, (side, stage, span)
            checked += 1
    assert checked >= len(STAGES)  # the group's own cells at least
    # the true value lies inside: the relations are those of the data
    true_applied = reached(pilot, 0, 0)
    assert (linprog(true_applied, A_eq=a_eq, b_eq=b_eq, bounds=(0, None)).fun) <= SMALL
