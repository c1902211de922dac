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

from pilot_eval.analysis.evidence.openanswers import open_answers_section
from pilot_eval.analysis.evidence.quality import quality_section
from pilot_eval.analysis.evidence.representativeness import representativeness_section
from pilot_eval.analysis.evidence.survey import survey_section
from pilot_eval.analysis.evidence.training import training_section
from pilot_eval.data.bundle import Bundle
from pilot_eval.plan.model import AnalysisPlan
from pilot_eval.privacy.cells import protect_row

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
    newly = [
        r
        for i, r in enumerate(rows)
        if r[count] is not None and protected.cells.get(str(i), r[count]) is None
    ]
    return _hide(newly, count, shares)


def with_rows(table: pd.DataFrame, bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """An application-level optional table with ``row``, its application's row in the
    analysis frame; rows of applications outside the frame (another arm) are dropped."""
    ids = pd.Index(bundle.applications["application_id"].astype("str"))
    row = ids.get_indexer(pd.Index(table["application_id"].astype("str")))
    keep = np.isin(row, frame.index.to_numpy())
    return table.assign(row=row)[keep].reset_index(drop=True)


APPLICATION_TABLES = ("interview_ratings", "survey")
"""Optional tables with one or more rows per application."""


def application_tables(bundle: Bundle, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The application-level optional tables present, each with its rows in ``frame``
    (``with_rows``), joined once for every use."""
    out = {}
    for name in APPLICATION_TABLES:
        table = bundle.table(name)
        if table is not None:
            out[name] = with_rows(table, bundle, frame)
    return out


def other_evidence(
    frame: pd.DataFrame,
    bundle: Bundle,
    plan: AnalysisPlan,
    joined: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """Every declared section whose table is present; notes for those skipped.

    ``joined``: ``application_tables(bundle, frame)``, when the caller has it already."""
    joined = application_tables(bundle, frame) if joined is None else joined
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
            out[section] = quality_section(frame, joined[table_name], plan)
        elif section == "survey":
            out[section] = _survey(frame, joined[table_name], plan)
        elif section == "committee_training":
            out[section] = training_section(table, plan)
        else:
            out[section] = representativeness_section(bundle.vacancies, table, plan)
    out["suppressed_cells"] = _complementary(out, plan.disclosure.min_cell)
    return out


def protect_complement(
    row: dict[str, Any], part: str, total: str, min_cell: int, shares: tuple[str, ...] = ()
) -> int:
    """Hide ``part`` (and its shares) when the rest of ``total``, total minus part, is a
    small count: non-respondents, untrained members, answers without a theme."""
    p, t = row.get(part), row.get(total)
    if p is None or t is None or not 0 < t - p < min_cell:
        return 0
    row[part] = None
    hidden = 1
    for share in shares:
        if row.get(share) is not None:
            row[share] = None
            hidden += 1
    return hidden


def _hide(rows: list[dict[str, Any]], key: str, shares: tuple[str, ...]) -> int:
    hidden = 0
    for r in rows:
        if r[key] is not None:
            r[key] = None
            hidden += 1
        for share in shares:
            if r.get(share) is not None:
                r[share] = None
                hidden += 1
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


def _complementary(out: dict[str, Any], min_cell: int) -> int:
    """Complementary suppression of counts of persons that add up to a published total or
    whose rest of a published total is small."""
    hidden = 0
    survey = out.get("survey")
    if survey is not None:
        rate = ("response_rate",)
        response = survey["response"]
        arm_rows = [r for r in response if r["by"] == "all"]
        for key, total in (("responded", "responded"), ("n", "invited")):
            # the arms add up to the published total of the survey
            pair = [*arm_rows, {key: max(0, survey[total] - sum(r[key] for r in arm_rows))}]
            hidden += protect_partition(pair, key, min_cell, rate)
        for row in response:
            hidden += protect_complement(row, "responded", "n", min_cell, rate)
        parts: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for row in response:
            if row["by"] != "all":
                parts.setdefault((row["arm"], row["by"]), []).append(row)
        for (arm, _), rows in parts.items():
            arm_row = next(r for r in arm_rows if r["arm"] == arm)
            for key in ("responded", "n"):
                if arm_row[key] is None:  # the values would add up to the hidden total
                    hidden += _hide(rows, key, rate)
                else:
                    hidden += protect_partition(rows, key, min_cell, rate)
        for row in survey["comparisons"]:
            pair = [{"n": row["n_arm"]}, {"n": row["n_reference"]}]
            hidden += protect_partition(pair, "n", min_cell)
            row["n_arm"], row["n_reference"] = pair[0]["n"], pair[1]["n"]
            if row["n_arm"] is None and row["n"] is not None:
                row["n"] = None  # with n_arm hidden, n minus another table's count tells it
                hidden += 1
        answers = survey.get("open_answers")
        if answers is not None:
            by_arm = answers["answers_by_arm"]
            hidden += protect_partition(by_arm, "answers", min_cell)
            hidden_arms = {r["arm"] for r in by_arm if r["answers"] is None}
            for theme in answers["themes"]:
                for f in theme["frequencies"]:
                    if f["arm"] in hidden_arms:
                        hidden += _hide([f], "n", ("share",))
                    hidden += protect_complement(f, "count", "n", min_cell, ("share",))
    training = out.get("committee_training")
    if training is not None:
        share = ("compliance",)
        for year in training["years"]:
            rows = [r for r in training["by_department"] if r["year"] == year]
            hidden += protect_partition(rows, "members_trained", min_cell, share)
            hidden += protect_partition(rows, "members_required", min_cell, share)
        for row in [*training["by_department"], *training["overall"]]:
            hidden += protect_complement(
                row, "members_trained", "members_required", min_cell, share
            )
    return hidden
