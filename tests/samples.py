"""Builders of small comparison samples for estimator tests."""

from __future__ import annotations

import pandas as pd

from pilot_eval.data.frame import ComparisonSample

Table = tuple[str, int, int, int, int]
"""(vacancy, focal passed, focal total, reference passed, reference total)."""


def sample_from_tables(tables: list[Table], arm: str = "control") -> ComparisonSample:
    """One row per application, reproducing the given 2x2 table per vacancy."""
    rows = []
    for vac, a, n1, c, n0 in tables:
        rows += [{"vacancy_id": vac, "focal": True, "success": i < a} for i in range(n1)]
        rows += [{"vacancy_id": vac, "focal": False, "success": i < c} for i in range(n0)]
    frame = pd.DataFrame(rows).assign(arm=arm)
    return ComparisonSample(frame=frame, exclusions=(), n_total=len(frame))
