"""Comparisons at a later stage: who reaches it depends on the earlier ones.

A comparison among applicants who reached the interview compares different people in the
two arms when the pilot changed who is invited: if the pilot removes an invitation penalty
for a group, weaker candidates of that group reach the interview too, and its offer rate
after the interview can fall although the interview treats equal ability equally. For
every hypothesis on a transition that does not start at the application, the analysis
therefore adds:

* the unconditional comparison: the same hypothesis from the application to the same
  stage (``applied -> to``, per applicant), with the deciding test. It answers "does the
  pilot change the group's chance to get this far?" and is not selected by earlier stages;
* bounds on the comparison among applicants who would reach the earlier stage either way
  (principal stratification; trimming bounds after Lee 2009, *Review of Economic Studies*
  76(3)). Of two sets of applicants compared, the one with the higher share reaching the
  earlier stage has its reachers trimmed by ``p = (q_high - q_low) / q_high``, once dropping
  those who passed first (lower bound of its pass rate) and once those who did not (upper
  bound); the other set's rate is taken as it is. The bounds of the comparison combine each
  rate's extremes.

  - A change of the gap between arms (``gap_difference``): per group, the arms are the two
    sets. Assumes monotone selection: within a group, whoever reaches the stage in the arm
    with the lower rate would reach it in the other too.
  - A gap or impact ratio within one arm (``stage_gap``, ``impact_ratio``): the groups are
    the two sets. Assumes the groups' applicants are alike at application in what the
    stages select on, so that the reachers of the group with the lower rate stand for the
    same top of their group as the best part of the other group's reachers; a penalty at
    the earlier stage then leaves the surplus of the favoured group among its reachers.

  A conclusion depends on the selection when the bounds straddle the criterion's
  threshold; ``verdicts`` names what the criterion says at each end. The bounds concern the
  pooled rates, carry no sampling uncertainty, and are not published when a group has fewer
  than the plan's ``min_cell`` reachers in an arm.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pilot_eval.analysis.estimators import Context, estimate_published
from pilot_eval.analysis.missing_bounds import (
    Interval,
    depends_on_missing,
    trimmed_share,
    trimming,
    verdicts_at_bounds,
)
from pilot_eval.analysis.results import Estimate
from pilot_eval.data.frame import analysed_arms, comparison_sample, group_masks
from pilot_eval.plan.model import STAGES, AnalysisPlan, Hypothesis, StageTransition

SELECTED_KINDS = ("gap_difference", "stage_gap", "impact_ratio")
"""Comparisons of pass rates, whose later stages are selected by the earlier ones."""


def is_later_stage(h: Hypothesis) -> bool:
    """A hypothesis on a transition that starts after the application."""
    return h.stage is not None and h.stage.from_ != STAGES[0]


def unconditional(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> Estimate | None:
    """The hypothesis from the application to its stage, with its deciding test."""
    if not is_later_stage(h):
        return None
    assert h.stage is not None
    stage = StageTransition.model_validate({"from": STAGES[0], "to": h.stage.to})
    whole = h.model_copy(update={"stage": stage})
    return estimate_published(
        whole.deciding_test, comparison_sample(frame, plan, whole), Context(plan, whole)
    )


Rates = dict[str, tuple[float, float]]


def _trimmed_rates(counts: dict[str, tuple[int, int, int]]) -> Rates:
    """Bounds of the pass rate of each of two sets of applicants, given per set the
    applications, the reachers of the earlier stage and the passers among them: the set
    with the higher share of reachers has its reachers trimmed to the other's share."""
    high, low, trim = trimming({name: r / n for name, (n, r, _) in counts.items()})
    _, r_high, s_high = counts[high]
    _, r_low, s_low = counts[low]
    exact = s_low / r_low
    return {low: (exact, exact), high: trimmed_share(r_high, s_high, trim)}


def _gap(focal: tuple[float, float], reference: tuple[float, float]) -> tuple[float, float]:
    """The extremes of the difference of two bounded rates."""
    return focal[0] - reference[1], focal[1] - reference[0]


def _ratio(
    focal: tuple[float, float], reference: tuple[float, float]
) -> tuple[float | None, float | None]:
    """The extremes of the ratio of two bounded rates; None where a denominator can be 0."""
    return (
        focal[0] / reference[1] if reference[1] > 0 else None,
        focal[1] / reference[0] if reference[0] > 0 else None,
    )


def withheld_stratum_bounds(reason: str) -> dict[str, Any]:
    """The ``stratum_bounds`` of a hypothesis whose bounds are not published, and why."""
    return {
        "lower": None,
        "upper": None,
        "depends_on_selection": None,
        "verdicts": None,
        "reason": reason,
    }


def stratum_bounds(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> dict[str, Any] | None:
    """Bounds on a later-stage comparison among applicants who would reach the earlier
    stage either way (module docstring); None for hypotheses on the first stage or scores."""
    if h.kind not in SELECTED_KINDS or not is_later_stage(h):
        return None
    assert h.stage is not None
    _, focal, reference = group_masks(frame, plan.groups[h.group])
    arm_values = frame["arm"].astype("str").to_numpy()
    reached_from = frame[f"reached_{h.stage.from_}"].to_numpy(dtype=bool)
    reached_to = frame[f"reached_{h.stage.to}"].to_numpy(dtype=bool)
    arms = analysed_arms(plan, h)
    counts: dict[tuple[str, str], tuple[int, int, int]] = {}
    for name, members in (("focal", focal), ("reference", reference)):
        for a in arms:
            rows = members & (arm_values == a)
            n, r = int(rows.sum()), int((rows & reached_from).sum())
            if n == 0 or r < plan.disclosure.min_cell:
                return withheld_stratum_bounds(
                    f"fewer than {plan.disclosure.min_cell} applicants of a group "
                    f"reached '{h.stage.from_}' in an arm: bounds not published"
                )
            counts[name, a] = (n, r, int((rows & reached_from & reached_to).sum()))
    if h.kind == "gap_difference":
        ref, arm = arms
        by_group = {
            g: _trimmed_rates({a: counts[g, a] for a in arms}) for g in ("focal", "reference")
        }
        gap = {a: _gap(by_group["focal"][a], by_group["reference"][a]) for a in arms}
        lower: float | None = gap[arm][0] - gap[ref][1]
        upper: float | None = gap[arm][1] - gap[ref][0]
    else:
        (arm,) = arms
        rates = _trimmed_rates({g: counts[g, arm] for g in ("focal", "reference")})
        combine = _ratio if h.kind == "impact_ratio" else _gap
        lower, upper = combine(rates["focal"], rates["reference"])
    interval = Interval(lower, None, upper)
    return {
        "lower": lower,
        "upper": upper,
        "depends_on_selection": depends_on_missing(h, interval),
        "verdicts": verdicts_at_bounds(h, interval),
        "reason": None,
    }
