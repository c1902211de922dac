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


def with_rows(table: pd.DataFrame, bundle: Bundle, frame: pd.DataFrame) -> pd.DataFrame:
    """An application-level optional table with ``row``, its application's row in the
    analysis frame; rows of applications outside the frame (another arm) are dropped."""
    ids = pd.Index(bundle.applications["application_id"].astype("str"))
    row = ids.get_indexer(pd.Index(table["application_id"].astype("str")))
    keep = np.isin(row, frame.index.to_numpy())
    return table.assign(row=row)[keep].reset_index(drop=True)


def other_evidence(frame: pd.DataFrame, bundle: Bundle, plan: AnalysisPlan) -> dict[str, Any]:
    """Every declared section whose table is present; notes for those skipped."""
    out: dict[str, Any] = {"skipped": []}
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
    return out


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
