"""Open answers of the survey, coded reproducibly by independent coders.

The bundle never holds the text of an answer: each coder's column of ``survey`` holds the
theme codes of the plan's codebook that the coder gave an answer (``;``-separated). Per
theme, every coder either gave the theme or not; agreement per theme is Cohen's kappa for
two coders (statsmodels ``cohens_kappa``, with its asymptotic standard error and Wald
interval at 1 - alpha) and Fleiss' kappa for more (statsmodels ``fleiss_kappa``, a point
value). The plan's resolution rule decides when a theme counts for an answer: all coders
gave it, more than half did, or any did. Theme frequencies are then shown by arm and by
group within arm.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa

from pilot_eval.plan.model import AnalysisPlan, OpenAnswers, Resolution

BoolArray = npt.NDArray[np.bool_]


def coded(table: pd.DataFrame, coders: tuple[str, ...], code: str) -> BoolArray:
    """Whether each coder gave ``code``, shape (n answers, n coders)."""
    # the code as a whole ';'-separated item, spaces around it allowed
    pattern = rf"(?:^|;)\s*{re.escape(code)}\s*(?:;|$)"
    columns = [
        table[coder].astype("string").str.contains(pattern, regex=True).fillna(False)
        for coder in coders
    ]
    return np.column_stack([c.to_numpy(dtype=bool) for c in columns])


def kappa(marks: BoolArray, alpha: float) -> dict[str, Any]:
    """Agreement of coders on one binary theme: Cohen's kappa (two coders, with SE and
    interval) or Fleiss' kappa (more coders, point value)."""
    n, k = marks.shape
    if n == 0:
        return {"reason": "no coded answers"}
    if marks.all() or not marks.any():
        return {
            "method": "cohen" if k == 2 else "fleiss",
            "reason": "every coder gave the "
            "same mark to every answer: agreement is perfect but kappa is undefined",
        }
    if k == 2:
        table = np.zeros((2, 2))
        np.add.at(table, (marks[:, 0].astype(int), marks[:, 1].astype(int)), 1)
        r = cohens_kappa(table)
        z = float(stats.norm.ppf(1 - alpha / 2))
        return {
            "method": "cohen",
            "value": float(r["kappa"]),
            "std_error": float(r["std_kappa"]),
            # statsmodels' own interval is at 95%; the plan's level from its SE
            "ci_low": float(r["kappa"] - z * r["std_kappa"]),
            "ci_high": float(r["kappa"] + z * r["std_kappa"]),
            "observed_agreement": float(np.trace(table) / n),
            "reason": None,
        }
    counts, _ = aggregate_raters(marks.astype(int), n_cat=2)
    return {
        "method": "fleiss",
        "value": float(fleiss_kappa(counts, method="fleiss")),
        "observed_agreement": float(np.mean(marks.all(axis=1) | ~marks.any(axis=1))),
        "reason": None,
    }


def resolve(marks: BoolArray, rule: Resolution) -> BoolArray:
    """Whether a theme counts for each answer under the plan's resolution rule."""
    votes = marks.sum(axis=1)
    if rule == "all":
        return np.asarray(votes == marks.shape[1])
    if rule == "any":
        return np.asarray(votes > 0)
    return np.asarray(votes * 2 > marks.shape[1])


def open_answers_section(
    answers: pd.DataFrame, plan: AnalysisPlan, o: OpenAnswers
) -> dict[str, Any]:
    """Agreement per theme and resolved theme frequencies by arm and group.

    ``answers``: the survey rows with an open answer, with the analysis frame's ``arm`` and
    group columns joined.
    """
    arm = answers["arm"].astype("str").to_numpy()
    themes: list[dict[str, Any]] = []
    for theme in o.codebook:
        marks = coded(answers, o.coders, theme.code)
        present = resolve(marks, o.resolution)
        row: dict[str, Any] = {
            "code": theme.code,
            "label": theme.label,
            "definition": theme.definition,
            "agreement": kappa(marks, plan.alpha),
            "frequencies": [],
        }
        for a in plan.design.arms:
            in_arm = arm == a
            row["frequencies"].append(_frequency(a, "all", "all", in_arm, present))
            for g in o.groups:
                group = plan.groups[g]
                values = answers[group.column].astype("object").astype("str").str.lower()
                for side in ("focal", "reference"):
                    wanted = [v.lower() for v in getattr(group, side)]
                    mask = in_arm & values.isin(wanted).to_numpy()
                    row["frequencies"].append(_frequency(a, g, side, mask, present))
        themes.append(row)
    return {
        "coders": len(o.coders),
        "resolution": o.resolution,
        "procedure": o.procedure,
        "answers": len(answers),
        "answers_by_arm": [{"arm": a, "answers": int((arm == a).sum())} for a in plan.design.arms],
        "themes": themes,
    }


def _frequency(
    arm: str, group: str, side: str, mask: BoolArray, present: BoolArray
) -> dict[str, Any]:
    n = int(mask.sum())
    count = int((mask & present).sum())
    return {
        "arm": arm,
        "group": group,
        "side": side,
        "n": n,
        "count": count,
        "share": count / n if n else None,
    }
