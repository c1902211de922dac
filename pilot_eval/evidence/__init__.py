"""The evaluation's other evidence, from the bundle's optional tables.

Each section of the plan (``interview_quality``, ``survey``, ``committee_training``,
``representativeness``) is computed when the plan declares it and its table is in the
bundle; a declared section whose table is absent is skipped with a note, never an error
(contract section 1). :func:`other_evidence` returns the ``evidence`` part of
results.json.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.bundle import Bundle
from pilot_eval.disclosure import protect_row
from pilot_eval.evidence.openanswers import open_answers_section
from pilot_eval.evidence.quality import quality_section
from pilot_eval.evidence.representativeness import representativeness_section
from pilot_eval.evidence.survey import survey_section
from pilot_eval.evidence.training import training_section
from pilot_eval.plan import AnalysisPlan

SECTIONS = {
    "interview_quality": "interview_ratings",
    "survey": "survey",
    "committee_training": "committee_training",
    "representativeness": "population",
}
"""Plan section -> the optional table it needs."""


def protect_partition(
    rows: list[dict[str, Any]], count: str, min_cell: int, shares: tuple[str, ...] = ()
) -> int:
    """Complementary suppression in rows whose ``count`` values add up to a published
    total (``disclosure.protect_row``): a small count is hidden, and so is the smallest
    other one when a single cell would otherwise follow by subtraction. The ``shares``
    resting on a hidden count are hidden too. Returns how many values were hidden; the
    remaining primary suppression happens in ``protect.protect_results``."""
    counts = {str(i): int(r[count]) for i, r in enumerate(rows) if r[count] is not None}
    protected = protect_row(counts, min_cell, partition=True)
    hidden = 0
    for i, r in enumerate(rows):
        if protected.cells.get(str(i), r[count]) is None and r[count] is not None:
            r[count] = None
            hidden += 1
            for share in shares:
                if r.get(share) is not None:
                    r[share] = None
                    hidden += 1
    return hidden


def with_rows(table: pd.DataFrame, bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """An application-level optional table with ``row``, its application's row in the
    analysis frame; rows of applications outside the frame (another arm) are dropped."""
    ids = pd.Index(bundle.applications["application_id"].astype("str"))
    row = ids.get_indexer(pd.Index(table["application_id"].astype("str")))
    keep = np.isin(row, frame.index.to_numpy())
    return table.assign(row=row)[keep].reset_index(drop=True)


def other_evidence(frame: pd.DataFrame, bundle: Bundle, plan: AnalysisPlan) -> dict[str, Any]:
    """Every declared section whose table is present; notes for those skipped."""
    out: dict[str, Any] = {"skipped": [], "suppressed_cells": 0}
    for section, table_name in SECTIONS.items():
        if getattr(plan, section) is None:
            continue
        table = bundle.table(table_name)
        if table is None:
            out["skipped"].append(
                {"section": section, "table": table_name, "reason": "table absent from the bundle"}
            )
            continue
        if section == "interview_quality":
            out[section] = quality_section(frame, with_rows(table, bundle, frame), plan)
        elif section == "survey":
            out[section] = _survey(frame, with_rows(table, bundle, frame), plan)
        elif section == "committee_training":
            out[section] = training_section(table, plan)
        else:
            out[section] = representativeness_section(bundle.vacancies, table, plan)
    out["suppressed_cells"] = _complementary(out, plan.disclosure.min_cell)
    return out


def _complementary(out: dict[str, Any], min_cell: int) -> int:
    """Complementary suppression where counts of persons partition a published total."""
    hidden = 0
    survey = out.get("survey")
    if survey is not None:
        # responses by stage or by group value partition the arm's invited and respondents
        parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in survey["response"]:
            if row["by"] != "all":
                parts.setdefault((row["arm"], row["by"]), []).append(row)
        for rows in parts.values():
            hidden += protect_partition(rows, "responded", min_cell, ("response_rate",))
            hidden += protect_partition(rows, "n", min_cell, ("response_rate",))
        # respondents of the arm and of the reference arm add up to n
        for row in survey["comparisons"]:
            pair = [{"n": row["n_arm"]}, {"n": row["n_reference"]}]
            hidden += protect_partition(pair, "n", min_cell)
            row["n_arm"], row["n_reference"] = pair[0]["n"], pair[1]["n"]
    training = out.get("committee_training")
    if training is not None:
        # departments partition the year's total of all departments
        for year in training["years"]:
            rows = [r for r in training["by_department"] if r["year"] == year]
            hidden += protect_partition(rows, "members_trained", min_cell, ("compliance",))
            hidden += protect_partition(rows, "members_required", min_cell, ("compliance",))
    return hidden


def _survey(frame: pd.DataFrame, survey: pd.DataFrame, plan: AnalysisPlan) -> dict[str, Any]:
    s = plan.survey
    assert s is not None
    out = survey_section(frame, survey, plan)
    if s.open_answers is not None:
        responded = survey["responded"].to_numpy(dtype=bool)
        if "answered" in survey:
            answered = survey["answered"].fillna(False).to_numpy(dtype=bool)
        else:  # an answer is known to exist when some coder coded it
            answered = survey[list(s.open_answers.coders)].notna().any(axis=1).to_numpy(dtype=bool)
        rows = survey[responded & answered]
        joined = frame.loc[rows["row"].to_numpy()].reset_index(drop=True)
        for coder in s.open_answers.coders:
            joined[coder] = rows[coder].to_numpy()
        out["open_answers"] = open_answers_section(joined, plan, s.open_answers)
    return out
