"""Descriptive tables of the bundle, protected by disclosure control.

These are the counts the report shows next to the tests: vacancies and applications per
arm, how far applications got, and how often each demographic was reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.data.frame import group_masks
from pilot_eval.data.tables import DEMOGRAPHICS, NOT_REPORTED
from pilot_eval.plan.model import STAGES, AnalysisPlan
from pilot_eval.privacy.cells import protect_row


def describe(frame: pd.DataFrame, vacancies: pd.DataFrame, plan: AnalysisPlan) -> dict[str, Any]:
    """Counts per arm, protected; returns the ``descriptives`` part of results.json.

    Every count below ``plan.disclosure.min_cell`` is null, with complementary suppression
    within each arm (whose total is published); ``suppressed_cells`` counts them all.
    """
    min_cell = plan.disclosure.min_cell
    suppressed = 0
    arms: dict[str, Any] = {}
    for arm in plan.design.arms:
        sub = frame[frame["arm"] == arm]
        stages = protect_row(
            {s: int(sub[f"reached_{s}"].sum()) for s in STAGES}, min_cell, partition=False
        )
        suppressed += stages.suppressed
        demographics: dict[str, Any] = {}
        for col in DEMOGRAPHICS:
            if col not in sub:
                continue
            values = sub[col]
            if isinstance(values.dtype, pd.BooleanDtype):
                values = values.map({True: "true", False: "false"})
            counts = values.astype("str").fillna(NOT_REPORTED).value_counts()
            labels = _labels(frame, col)
            row = protect_row(
                {k: int(counts.get(k, 0)) for k in labels},
                min_cell,
                sensitive_zero=labels[:-1],
                derivable=(NOT_REPORTED,),
            )
            suppressed += row.suppressed
            demographics[col] = {
                "counts": row.cells,
                # a share of fewer than min_cell persons, or of a hidden count, would give
                # the count away
                "not_reported_share": float(values.isna().mean())
                if len(values) >= min_cell and row.cells[NOT_REPORTED] is not None
                else None,
            }
        arms[arm] = {
            "n_vacancies": int((vacancies["arm"] == arm).sum()),
            "n_applications": len(sub) if len(sub) >= min_cell or len(sub) == 0 else None,
            "reached": stages.cells,
            "demographics": demographics,
        }
    funnel, funnel_suppressed = describe_funnel(frame, plan)
    period = None
    if "opened_on" in vacancies and vacancies["opened_on"].notna().any():
        dates = vacancies["opened_on"].dropna()
        period = {"first": dates.min().date().isoformat(), "last": dates.max().date().isoformat()}
    return {
        "min_cell": min_cell,
        "period": period,
        "arms": arms,
        "funnel": funnel,
        "suppressed_cells": suppressed + funnel_suppressed,
    }


SIDES = ("focal", "reference", "other")
"""How a group splits applications: focal, reference, and other or not reported."""


def describe_funnel(frame: pd.DataFrame, plan: AnalysisPlan) -> tuple[dict[str, Any], int]:
    """Per group, arm and side (focal, reference, other): applications reaching each stage,
    the share of applicants reaching it, the transition rate from the stage before, and the
    impact ratio of that transition (focal rate / reference rate).

    Counts of one arm and stage partition its total over the sides, so small counts get
    complementary suppression; a rate is published only when its denominator has at least
    ``min_cell`` persons and its numerator is published.
    """
    min_cell = plan.disclosure.min_cell
    suppressed = 0
    out: dict[str, Any] = {}
    arms = list(plan.design.arms)
    arm_code = pd.Categorical(frame["arm"].astype("str"), categories=arms).codes
    stage = frame["stage"].to_numpy(dtype=np.int64)
    for name, group in plan.groups.items():
        _, focal, reference = group_masks(frame, group)
        side = np.where(reference, 1, np.where(focal, 0, 2))  # the order of SIDES
        # applications by [arm, side, last stage reached]; reached s = last stage >= s
        known = arm_code >= 0
        last = np.bincount(
            (arm_code[known] * len(SIDES) + side[known]) * len(STAGES) + stage[known],
            minlength=len(arms) * len(SIDES) * len(STAGES),
        ).reshape(len(arms), len(SIDES), len(STAGES))
        reached = last[:, :, ::-1].cumsum(axis=2)[:, :, ::-1]
        per_arm: dict[str, Any] = {}
        for a, arm in enumerate(arms):
            raw = {
                k: {st: int(reached[a, j, i]) for i, st in enumerate(STAGES)}
                for j, k in enumerate(SIDES)
            }
            per_arm[arm], hidden = _funnel_of_arm(raw, min_cell)
            suppressed += hidden
        out[name] = {
            "column": group.column,
            "focal": list(group.focal),
            "reference": list(group.reference),
            "arms": per_arm,
        }
    return out, suppressed


def _funnel_of_arm(
    raw: Mapping[str, Mapping[Any, int]], min_cell: int
) -> tuple[dict[str, Any], int]:
    """One arm's funnel of a group from its counts per side and stage: protected counts,
    shares, transition rates and impact ratios; and how many counts were suppressed."""
    suppressed = 0
    shown: dict[str, dict[str, int | None]] = {k: {} for k in SIDES}
    for s in STAGES:
        # 'other' (neither group, or not reported) is counted by every exclusion
        # ledger: never the complement; a group reaching a stage with nobody
        # discloses the outcome of each of its members
        row = protect_row(
            {k: raw[k][s] for k in SIDES},
            min_cell,
            sensitive_zero=("focal", "reference"),
            derivable=("other",),
        )
        suppressed += row.suppressed
        for k in SIDES:
            shown[k][s] = row.cells[k]
    sides: dict[str, Any] = {}
    for k in SIDES:
        sides[k] = {
            "reached": shown[k],
            "share_of_applicants": {
                s: _rate(raw[k][s], raw[k]["applied"], shown[k][s], shown[k]["applied"], min_cell)
                for s in STAGES
            },
            "transition_rate": {
                s: _rate(raw[k][s], raw[k][prev], shown[k][s], shown[k][prev], min_cell)
                for prev, s in itertools.pairwise(STAGES)
            },
        }
    ratios: dict[str, float | None] = {}
    for s, rate in sides["focal"]["transition_rate"].items():
        ref = sides["reference"]["transition_rate"][s]
        ratios[s] = rate / ref if rate is not None and ref else None
    return {"sides": sides, "impact_ratio": ratios}, suppressed


def _rate(
    numerator: int,
    denominator: int,
    shown: int | None,
    shown_denominator: int | None,
    min_cell: int,
) -> float | None:
    """A rate, unless it would give a hidden count away: its numerator or its denominator
    is not published (with the other published, the rate reveals it), or the denominator
    is below ``min_cell``."""
    if denominator < min_cell or shown is None or shown_denominator is None:
        return None
    return numerator / denominator


def _labels(frame: pd.DataFrame, col: str) -> list[str]:
    values = frame[col]
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = [str(c) for c in values.cat.categories]
    elif isinstance(values.dtype, pd.BooleanDtype):
        labels = ["true", "false"]
    else:
        labels = sorted(str(v) for v in values.dropna().unique())
    return [*labels, NOT_REPORTED]
