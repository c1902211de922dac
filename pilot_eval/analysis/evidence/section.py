"""The other evidence of a run, with the interview-rating gaps by group per arm."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pilot_eval.analysis.evidence import application_tables, other_evidence
from pilot_eval.analysis.evidence.quality import mean_interview_rating
from pilot_eval.analysis.hypotheses import score_gap_by_arm
from pilot_eval.data.bundle import Bundle
from pilot_eval.plan.model import (
    AnalysisPlan,
    Hypothesis,
)


def evidence_section(frame: pd.DataFrame, bundle: Bundle, plan: AnalysisPlan) -> dict[str, Any]:
    """The other evidence, with the interview-rating gaps by group per arm."""
    joined = application_tables(bundle, frame)
    out = other_evidence(frame, bundle, plan, joined)
    quality = out.get("interview_quality")
    rows = joined.get("interview_ratings")
    if quality is not None and rows is not None and plan.interview_quality is not None:
        rated = frame.assign(
            interview_rating=mean_interview_rating(int(frame.index.max()) + 1, rows)[
                frame.index.to_numpy()
            ]
        )
        quality["gaps"] = [
            {
                "group": g,
                **score_gap_by_arm(
                    rated,
                    plan,
                    Hypothesis(
                        id=f"interview_rating_{g}",
                        family=plan.primary_family,
                        kind="score_gap",
                        group=g,
                        score="interview_rating",
                        arm=plan.design.arms[-1],
                    ),
                ),
            }
            for g in plan.interview_quality.groups
        ]
        for gap in quality["gaps"]:
            _withhold_small_gaps(gap, plan.disclosure.min_cell)
    return out


def _withhold_small_gaps(gap: dict[str, Any], min_cell: int) -> None:
    """Hedges' g on fewer applications than min_cell in a group would publish their number
    through its df and standard error: such an arm's g is withheld, with the reason."""
    reason = f"fewer than {min_cell} rated applications in a group of this arm"
    small = False
    for name, e in list(gap["per_arm"].items()):
        sizes = [e.get("n_focal"), e.get("n_reference")]
        n = e.get("n_applications")
        if (n is not None and n < min_cell) or any(
            x is not None and 0 < x < min_cell for x in sizes
        ):
            gap["per_arm"][name] = {"n_applications": n, "reason": reason}
            small = True
    if small and gap.get("difference_between_arms") is not None:
        gap["difference_between_arms"] = {"reason": reason}
