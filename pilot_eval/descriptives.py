"""Descriptive tables of the bundle, protected by disclosure control.

These are the counts the report shows next to the tests: vacancies and applications per
arm, how far applications got, and how often each demographic was reported.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pilot_eval.disclosure import protect_row
from pilot_eval.plan import STAGES, AnalysisPlan

DEMOGRAPHICS = ("origin", "gender", "age_band", "disability")
NOT_REPORTED = "not_reported"


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
            row = protect_row({k: int(counts.get(k, 0)) for k in labels}, min_cell)
            suppressed += row.suppressed
            demographics[col] = {
                "counts": row.cells,
                "not_reported_share": float((values.isna()).mean()) if len(values) else None,
            }
        arms[arm] = {
            "n_vacancies": int((vacancies["arm"] == arm).sum()),
            "n_applications": len(sub),
            "reached": stages.cells,
            "demographics": demographics,
        }
    return {"min_cell": min_cell, "arms": arms, "suppressed_cells": suppressed}


def _labels(frame: pd.DataFrame, col: str) -> list[str]:
    values = frame[col]
    if isinstance(values.dtype, pd.CategoricalDtype):
        labels = [str(c) for c in values.cat.categories]
    elif isinstance(values.dtype, pd.BooleanDtype):
        labels = ["true", "false"]
    else:
        labels = sorted(str(v) for v in values.dropna().unique())
    return [*labels, NOT_REPORTED]
