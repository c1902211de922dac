"""Quality of the ratings: inter-rater reliability, internal consistency, gaps by group.

From the optional table ``interview_ratings`` (one row per application x rater x
criterion, with the instrument: the interview or the questionnaire):

* Inter-rater reliability of the interview per arm: each rater's rating of an
  application is the mean over the criteria; the intraclass correlation of the form the
  plan declares comes from pingouin's ``intraclass_corr`` (Shrout & Fleiss 1979; McGraw &
  Wong 1996) with its 95% interval (pingouin gives no other level). Raters are the seats
  of the panel, the first, second, ... rater of an application in order of rater_id: the
  panels differ between vacancies, which the one-way forms (ICC1, ICC1k) respect.
  Applications rated by another number of raters than the most common one are left out
  and counted; pingouin needs a complete table.
* Internal consistency per instrument and arm: Cronbach's alpha of the criteria (items),
  each the mean over the raters of an application, with Feldt's interval at 1 - alpha
  (pingouin ``cronbach_alpha``); applications missing an item are left out and counted.
* Gaps: Hedges' g of the mean interview rating between a group's focal and reference
  applicants, per arm, and its difference between arms (as a score_gap hypothesis).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pilot_eval.plan.model import AnalysisPlan, IccForm

PINGOUIN_TYPES: Mapping[IccForm, tuple[str, ...]] = {
    "ICC1": ("ICC1", "ICC(1,1)"),
    "ICC2": ("ICC2", "ICC(A,1)"),
    "ICC3": ("ICC3", "ICC(C,1)"),
    "ICC1k": ("ICC1k", "ICC(1,k)"),
    "ICC2k": ("ICC2k", "ICC(A,k)"),
    "ICC3k": ("ICC3k", "ICC(C,k)"),
}
"""The plan's ICC forms and the names pingouin has given them (before and since 0.6)."""

MIN_TARGETS = 5
"""Fewer rated applications than this give no reliability (the plan's min_cell applies
when it is larger: statistics on fewer persons would publish their number in the df)."""


def icc(long: pd.DataFrame, form: IccForm) -> dict[str, Any]:
    """Intraclass correlation of a complete long table (target, rater, rating).

    Returns value, F, df1, df2, p_value and the 95% interval, via pingouin.
    """
    import pingouin as pg  # imported here: it loads its plotting stack on import

    with warnings.catch_warnings():
        # pingouin 0.7's ANOVA calls DataFrame.dropna(inplace=True), which pandas 3.1
        # deprecates; the result is the same. Only this message of pingouin is silenced.
        warnings.filterwarnings(
            "ignore",
            message="The inplace keyword in DataFrame.dropna",
            category=getattr(pd.errors, "Pandas4Warning", DeprecationWarning),
        )
        table = pg.intraclass_corr(
            data=long, targets="target", raters="rater", ratings="rating", nan_policy="raise"
        )
    names = PINGOUIN_TYPES[form]
    row = table[table["Type"].isin(names)]
    if len(row) != 1:
        raise RuntimeError(f"pingouin returned no row for {form} (types: {list(table['Type'])})")
    r = row.iloc[0]
    ci_column = next(c for c in table.columns if str(c).startswith("CI"))
    low, high = (float(v) for v in r[ci_column])
    return {
        "form": form,
        "value": float(r["ICC"]),
        "F": float(r["F"]),
        "df1": float(r["df1"]),
        "df2": float(r["df2"]),
        "p_value": float(r["pval"]),
        "ci_low": low,
        "ci_high": high,
        "confidence": 0.95,
    }


def cronbach(items: pd.DataFrame, alpha: float) -> dict[str, Any]:
    """Cronbach's alpha of the columns of ``items`` (complete rows) with Feldt's interval
    at level 1 - alpha, via pingouin."""
    import pingouin as pg

    value, ci = pg.cronbach_alpha(data=items, ci=1 - alpha)
    return {
        "value": float(value),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
        "n_items": int(items.shape[1]),
        "n": len(items),
        "confidence": 1 - alpha,
    }


def _rater_seats(ratings: pd.DataFrame) -> pd.DataFrame:
    """Mean over criteria per application x rater, with the rater's seat (0, 1, ...)."""
    # rater ids as sorted codes, so that the seat order is the order of rater_id
    rater = pd.factorize(ratings["rater_id"], sort=True)[0]
    per_rater = (
        pd.DataFrame({"row": ratings["row"].to_numpy(), "rater": rater, "score": ratings["score"]})
        .groupby(["row", "rater"], sort=True)["score"]
        .mean()
        .reset_index()
    )
    per_rater["seat"] = per_rater.groupby("row", sort=False).cumcount()
    return per_rater


def reliability(ratings: pd.DataFrame, form: IccForm, min_n: int = MIN_TARGETS) -> dict[str, Any]:
    """ICC of one arm's interview ratings (columns row, rater_id, criterion, score)."""
    per_rater = _rater_seats(ratings)
    raters = per_rater.groupby("row")["seat"].size()
    if raters.empty:
        return {"reason": "no ratings", "n": 0}
    counts = raters.value_counts().sort_index(ascending=False)
    k = int(counts.index[int(np.argmax(counts.to_numpy()))])
    keep = raters.index[raters == k]
    left_out = int((raters != k).sum())
    out: dict[str, Any] = {"raters": k, "n": len(keep), "n_left_out": left_out}
    if k < 2:
        return {**out, "reason": "applications have one rater each: no reliability"}
    if len(keep) < max(min_n, MIN_TARGETS):
        return {
            **out,
            "reason": f"fewer than {max(min_n, MIN_TARGETS)} applications with {k} raters",
        }
    use = per_rater[per_rater["row"].isin(keep)]
    long = pd.DataFrame(
        {"target": use["row"].to_numpy(), "rater": use["seat"].to_numpy(), "rating": use["score"]}
    )
    if float(long.groupby("target")["rating"].mean().var()) == 0.0:
        return {**out, "reason": "every application has the same mean rating"}
    return {**out, **icc(long, form), "reason": None}


def consistency(ratings: pd.DataFrame, alpha: float, min_n: int = MIN_TARGETS) -> dict[str, Any]:
    """Cronbach's alpha of the criteria of one instrument in one arm."""
    criterion = pd.Categorical(ratings["criterion"].astype("str"))
    wide = (
        pd.DataFrame(
            {
                "row": ratings["row"].to_numpy(),
                "criterion": criterion,
                "score": ratings["score"].to_numpy(),
            }
        )
        .groupby(["row", "criterion"], sort=True, observed=True)["score"]
        .mean()
        .unstack("criterion")
    )
    complete = wide.dropna()
    out: dict[str, Any] = {"n_left_out": int(len(wide) - len(complete))}
    out.update({"n_items": int(wide.shape[1]), "n": len(complete)})
    if wide.shape[1] < 2:
        return {**out, "reason": "fewer than two criteria"}
    if len(complete) < max(min_n, MIN_TARGETS):
        return {
            **out,
            "reason": f"fewer than {max(min_n, MIN_TARGETS)} applications with every criterion",
        }
    return {**out, **cronbach(complete, alpha), "reason": None}


def quality_section(
    frame: pd.DataFrame, ratings: pd.DataFrame, plan: AnalysisPlan
) -> dict[str, Any]:
    """Reliability per arm, consistency per instrument and arm (``ratings`` has a column
    ``row``: the application's row in the analysis frame)."""
    q = plan.interview_quality
    assert q is not None  # the run calls this only when the plan has the section
    arm = frame["arm"].astype("str")
    positions = frame.index.get_indexer(pd.Index(ratings["row"]))
    ratings = ratings.assign(arm=arm.to_numpy()[positions])
    ratings = ratings[ratings["arm"].isin(plan.design.arms)]
    if "instrument" not in ratings:
        ratings = ratings.assign(instrument="interview")
    instrument = ratings["instrument"].astype("object").fillna("interview").astype("str")
    interview = ratings[instrument == "interview"]
    out: dict[str, Any] = {
        "form": q.icc,
        "reliability": {
            a: reliability(interview[interview["arm"] == a], q.icc, plan.disclosure.min_cell)
            for a in plan.design.arms
        },
        "consistency": [],
    }
    for name in ("interview", "questionnaire"):
        part = ratings[instrument == name]
        for a in plan.design.arms:
            rows = part[part["arm"] == a]
            if len(rows):
                out["consistency"].append(
                    {
                        "instrument": name,
                        "arm": a,
                        **consistency(rows, plan.alpha, plan.disclosure.min_cell),
                    }
                )
    return out


def mean_interview_rating(n_rows: int, ratings: pd.DataFrame) -> np.ndarray:
    """The mean interview rating of each application of the analysis frame (nan if none)."""
    if "instrument" in ratings:
        keep = ratings["instrument"].astype("object").fillna("interview") == "interview"
        ratings = ratings[keep.to_numpy()]
    sums = np.bincount(ratings["row"], weights=ratings["score"], minlength=n_rows)
    counts = np.bincount(ratings["row"], minlength=n_rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean: np.ndarray = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return mean
