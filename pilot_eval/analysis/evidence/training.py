"""Monitoring of the mandatory bias workshop for selection committees.

From the optional table ``committee_training`` (department, year, members_required,
members_trained): the compliance, members trained / members required, per department and
year over the plan's last ``years`` years of the table, and for all departments together
per year (the sum of trained over the sum of required).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.plan.model import AnalysisPlan


def training_section(table: pd.DataFrame, plan: AnalysisPlan) -> dict[str, Any]:
    """Compliance per department per year and per year overall."""
    c = plan.committee_training
    assert c is not None  # the run calls this only when the plan has the section
    last = int(table["year"].max())
    years = list(range(last - c.years + 1, last + 1))
    recent = table[table["year"].isin(years)]
    rows = []
    sums = recent.groupby(["department", "year"], sort=True)[
        ["members_required", "members_trained"]
    ].sum()
    for (dept, year), (required, trained) in zip(
        sums.index, sums.to_numpy(dtype=np.int64), strict=True
    ):
        rows.append(_row(str(dept), int(year), int(required), int(trained)))
    overall = []
    for year in years:
        part = recent[recent["year"] == year]
        overall.append(
            _row(
                "all",
                year,
                int(part["members_required"].sum()),
                int(part["members_trained"].sum()),
            )
        )
    departments = sorted({r["department"] for r in rows})
    missing = [
        {"department": d, "year": y}
        for d in departments
        for y in years
        if not any(r["department"] == d and r["year"] == y for r in rows)
    ]
    return {
        "years": years,
        "departments": departments,
        "by_department": rows,
        "overall": overall,
        "missing": missing,
        "rows_before": int((table["year"] < years[0]).sum()),
    }


def _row(department: str, year: int, required: int, trained: int) -> dict[str, Any]:
    return {
        "department": department,
        "year": year,
        "members_required": required,
        "members_trained": trained,
        "compliance": trained / required if required else None,
    }
