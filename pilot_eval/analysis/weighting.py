"""Reweighting reference-arm vacancies to the profile of the compared arm.

When organisations chose which vacancies joined the pilot (self-selected or matched
designs), pilot and control vacancies can differ in department, level and kind of work.
This robustness specification reweights the reference-arm vacancies so that, within each
profile cell, they weigh as much as the arm's vacancies (post-stratification to the arm,
an estimate for the arm's vacancies: the effect on the treated). Salary scales are grouped
in bands so that cells stay populated:

* arm vacancy: weight 1, or 0 when no reference vacancy shares its cell (off support);
* reference vacancy in cell c: n_arm(c) / n_ref(c), or 0 when the arm has no vacancy in c.

The summary reports the cells, the vacancies off support and Kish's effective number of
reference vacancies, (sum w)^2 / sum w^2, which shows what the reweighting costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.data.tables import SCALE_BANDS

DEFAULT_PROFILE = ("department", "salary_scale")
"""Profile columns when the plan names none."""


def profile_values(vacancies: pd.DataFrame, column: str) -> pd.Series:
    """A profile column as text: salary_scale (or salary_band) in SCALE_BANDS, missing as
    'missing'."""
    values = vacancies["salary_scale" if column == "salary_band" else column]
    if column in ("salary_scale", "salary_band"):
        out = pd.Series("", index=values.index, dtype="str")
        for low, high, label in SCALE_BANDS:
            out[(values >= low) & (values <= high)] = label
        return out
    return values.astype("str").fillna("missing")


def profile_weights(
    vacancies: pd.DataFrame, arm: str, reference: str, columns: Sequence[str]
) -> tuple[pd.Series, dict[str, Any]]:
    """Weight per vacancy_id (arm and reference arm only) and a summary of the weighting."""
    vac = vacancies[vacancies["arm"].isin([arm, reference])]
    cell = pd.Series("", index=vac.index, dtype="str")
    for i, column in enumerate(columns):
        cell = cell + ("|" if i else "") + profile_values(vac, column)
    is_arm = (vac["arm"] == arm).to_numpy()
    counts = pd.crosstab(cell, vac["arm"]).reindex(columns=[arm, reference], fill_value=0)
    n_arm = cell.map(counts[arm]).to_numpy(dtype=np.float64)
    n_ref = cell.map(counts[reference]).to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(
            is_arm, (n_ref > 0).astype(float), np.where(n_arm > 0, n_arm / n_ref, 0.0)
        )
    weights = pd.Series(weight, index=vac["vacancy_id"].to_numpy(), name="weight")
    ref_w = weight[~is_arm]
    kept = ref_w[ref_w > 0]
    summary = {
        "columns": list(columns),
        "scale_bands": [label for _, _, label in SCALE_BANDS]
        if "salary_scale" in columns
        else None,
        "cells": len(counts),
        "arm_vacancies_off_support": int(np.sum(is_arm & (weight == 0))),
        "reference_vacancies_off_support": int(np.sum(~is_arm & (weight == 0))),
        "reference_effective_n": float(kept.sum() ** 2 / np.sum(kept**2)) if kept.size else 0.0,
        "max_weight": float(ref_w.max()) if ref_w.size else None,
    }
    return weights, summary
