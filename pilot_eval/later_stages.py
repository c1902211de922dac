"""Comparisons at a later stage: who reaches it depends on the earlier ones.

A comparison among applicants who reached the interview compares different people in the
two arms when the pilot changed who is invited: if the pilot removes an invitation penalty
for a group, weaker candidates of that group reach the interview too, and its offer rate
after the interview can fall although the interview treats equal ability equally. For
every hypothesis on a transition that does not start at the application, the runner
therefore adds:

* the unconditional comparison: the same hypothesis from the application to the same
  stage (``applied -> to``, per applicant), with the deciding test. It answers "does the
  pilot change the group's chance to get this far?" and is not selected by earlier stages;
* for a change of the gap between arms (``gap_difference``), bounds on the change among
  applicants who would reach the earlier stage in either arm (principal stratification;
  trimming bounds after Lee 2009, *Review of Economic Studies* 76(3), per group). They
  assume monotone selection: within a group, whoever reaches the stage in the arm with the
  lower rate would reach it in the other too. Within a group the arm with the higher rate
  of reaching the stage has its reachers trimmed by ``p = (q_high - q_low) / q_high``,
  once dropping those who passed first (lower bound of its pass rate) and once those who
  did not (upper bound); the other arm's rate is taken as it is. The bounds of the change
  combine each rate's extremes; a conclusion depends on the selection when they straddle
  the criterion's threshold. They concern the pooled rates, carry no sampling
  uncertainty, and are not published when a group has fewer than the plan's ``min_cell``
  reachers in an arm.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pilot_eval.estimators import Context, estimate
from pilot_eval.missing_bounds import Interval, depends_on_missing, trimmed_share
from pilot_eval.plan import STAGES, AnalysisPlan, Hypothesis, StageTransition
from pilot_eval.prepare import analysed_arms, comparison_sample, group_masks
from pilot_eval.results import Estimate


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
    return estimate(
        whole.deciding_test, comparison_sample(frame, plan, whole), Context(plan, whole)
    )


def stratum_bounds(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> dict[str, Any] | None:
    """Bounds on a later-stage change of the gap among applicants who would reach the
    earlier stage in either arm (module docstring); None for other hypotheses."""
    if h.kind != "gap_difference" or not is_later_stage(h):
        return None
    assert h.stage is not None
    _, focal, reference = group_masks(frame, plan.groups[h.group])
    arm_values = frame["arm"].astype("str").to_numpy()
    reached_from = frame[f"reached_{h.stage.from_}"].to_numpy(dtype=bool)
    reached_to = frame[f"reached_{h.stage.to}"].to_numpy(dtype=bool)
    ref, arm = analysed_arms(plan, h)
    rates: dict[str, dict[str, tuple[float, float]]] = {}
    for name, members in (("focal", focal), ("reference", reference)):
        counts = {}
        for a in (ref, arm):
            rows = members & (arm_values == a)
            n, r = int(rows.sum()), int((rows & reached_from).sum())
            if n == 0 or r < plan.disclosure.min_cell:
                return {
                    "lower": None,
                    "upper": None,
                    "depends_on_selection": None,
                    "reason": f"fewer than {plan.disclosure.min_cell} applicants of a group "
                    f"reached '{h.stage.from_}' in an arm: bounds not published",
                }
            counts[a] = (r / n, r, int((rows & reached_from & reached_to).sum()))
        high = arm if counts[arm][0] > counts[ref][0] else ref
        low = ref if high == arm else arm
        trim = (counts[high][0] - counts[low][0]) / counts[high][0]
        exact = counts[low][2] / counts[low][1]
        rates[name] = {
            low: (exact, exact),
            high: trimmed_share(counts[high][1], counts[high][2], trim),
        }
    gap = {
        a: (
            rates["focal"][a][0] - rates["reference"][a][1],
            rates["focal"][a][1] - rates["reference"][a][0],
        )
        for a in (ref, arm)
    }
    lower, upper = gap[arm][0] - gap[ref][1], gap[arm][1] - gap[ref][0]
    return {
        "lower": lower,
        "upper": upper,
        "depends_on_selection": depends_on_missing(h, Interval(lower, None, upper)),
        "reason": None,
    }
