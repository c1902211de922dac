"""Worst-case bounds for hypotheses on a group whose membership is partly not reported.

Origin and disability are voluntary questions; fewer applicants answer them in one arm than
in the other. Leaving out those who did not answer (complete cases) is right only if they
resemble those who did. Filling every missing value with one category in both arms is not a
bound: the arms may differ in who does not answer. The bounds here assume nothing about the
missing values (Manski 1989, *Journal of Human Resources* 24(3); Horowitz & Manski 2000,
*JASA* 95(449)): every application whose value is missing may be of the focal group, of the
reference group or of neither, independently in each arm, and the bounds are the smallest
and largest value the comparison can then take. They concern the pooled comparison (the
totals of the applications compared, as ``difference_pooled``), identify what the data can
and cannot tell, and carry no sampling uncertainty.

Per arm, with ``x``/``n`` passers and applications of a known group and ``P``/``F`` passers
and non-passers among those with a missing value:

* ``pool_share``: the focal share among all applications lies in ``[f / N, (f + M) / N]``
  (``M`` missing of ``N``); the complete-case share ``f / (N - M)`` lies inside;
* a transition rate gap (``stage_gap``): largest when every missing passer is focal and
  every missing non-passer reference, ``(x_f + P) / (n_f + P) - x_r / (n_r + F)``; smallest
  the other way round;
* an impact ratio: the same extremes, as a ratio;
* between arms (``pool_share``, ``gap_difference``): lower bound of the arm minus upper
  bound of the reference arm, and the other way round (the arms' missing values may differ).

For a pool share, trimming bounds (Lee 2009) narrow this under one assumption, monotone
response (``lee_bounds``).

A conclusion depends on the missing values when the bounds straddle the criterion's
threshold (``min_effect``, no effect when left out; two-sided: the edge of the region
within ``|min_effect - null|`` of no effect).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pilot_eval.plan import BETWEEN_ARMS, NO_EFFECT, AnalysisPlan, Hypothesis
from pilot_eval.prepare import analysed_arms, group_masks

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Interval:
    """Bounds and the complete-case value of one arm's quantity; None where undefined."""

    lower: float | None
    complete_case: float | None
    upper: float | None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _quot(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _arm_interval(
    frame: pd.DataFrame, h: Hypothesis, rows: BoolArray, masks: tuple[BoolArray, ...]
) -> tuple[Interval, int]:
    """The arm's bounds and its number of applications with a missing value."""
    unknown, focal, reference = (m & rows for m in masks)
    missing = int(unknown.sum())
    if h.kind == "pool_share":
        n, f = int(rows.sum()), int(focal.sum())
        return Interval(_ratio(f, n), _ratio(f, n - missing), _ratio(f + missing, n)), missing
    assert h.stage is not None  # the plan requires a stage for the other kinds
    success = frame[f"reached_{h.stage.to}"].to_numpy(dtype=bool)
    x_f, n_f = int((focal & success).sum()), int(focal.sum())
    x_r, n_r = int((reference & success).sum()), int(reference.sum())
    passed, failed = int((unknown & success).sum()), int((unknown & ~success).sum())
    best_f, worst_f = _ratio(x_f + passed, n_f + passed), _ratio(x_f, n_f + failed)
    best_r, worst_r = _ratio(x_r + passed, n_r + passed), _ratio(x_r, n_r + failed)
    rate_f, rate_r = _ratio(x_f, n_f), _ratio(x_r, n_r)
    combine = _quot if h.kind == "impact_ratio" else _diff
    return (
        Interval(combine(worst_f, best_r), combine(rate_f, rate_r), combine(best_f, worst_r)),
        missing,
    )


def manski_bounds(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> dict[str, Any] | None:
    """The worst-case bounds of hypothesis ``h`` (module docstring), in results form; None
    for score gaps (scores have no natural bounds) and when no value is missing. With fewer
    than the plan's ``min_cell`` missing values in an arm, nothing but the reason: the width
    of the bounds would give that number away."""
    if h.kind == "score_gap":
        return None
    masks = group_masks(frame, plan.groups[h.group])
    reached = (
        frame[f"reached_{h.stage.from_}"].to_numpy(dtype=bool)
        if h.stage is not None
        else np.ones(len(frame), dtype=bool)
    )
    arm_values = frame["arm"].astype("str").to_numpy()
    arms = analysed_arms(plan, h)
    per_arm = {a: _arm_interval(frame, h, reached & (arm_values == a), masks) for a in arms}
    missing = {a: m for a, (_, m) in per_arm.items()}
    if not any(missing.values()):
        return None
    small = plan.disclosure.min_cell
    if any(0 < m < small for m in missing.values()):
        # the width of the bounds would give the number of missing values away
        return {
            "method": "manski",
            "lower": None,
            "complete_case": None,
            "upper": None,
            "missing": None,
            "depends_on_missing": None,
            "reason": f"fewer than {small} applications without a value in an arm: "
            "bounds not published",
            "lee": None,
        }
    if h.kind in BETWEEN_ARMS:
        ref, arm = per_arm[arms[0]][0], per_arm[arms[1]][0]
        interval = Interval(
            _diff(arm.lower, ref.upper),
            _diff(arm.complete_case, ref.complete_case),
            _diff(arm.upper, ref.lower),
        )
    else:
        interval = per_arm[arms[0]][0]
    out: dict[str, Any] = {
        "method": "manski",
        "lower": interval.lower,
        "complete_case": interval.complete_case,
        "upper": interval.upper,
        "missing": missing,
        "depends_on_missing": depends_on_missing(h, interval),
        "reason": None,
        "lee": None,
    }
    if h.kind == "pool_share":
        out["lee"] = lee_bounds(frame, plan, h, masks)
    return out


def trimmed_share(n: int, successes: int, trim: float) -> tuple[float, float]:
    """Bounds of the share of successes among ``n`` after trimming a share ``trim`` of them
    (Lee 2009): dropping successes first gives the lower bound, the others first the upper."""
    kept = n * (1 - trim)
    return max(0.0, (successes - trim * n) / kept), min(1.0, successes / kept)


def lee_bounds(
    frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis, masks: tuple[BoolArray, ...]
) -> dict[str, Any] | None:
    """Trimming bounds (Lee 2009, *Review of Economic Studies* 76(3)) on the focal share
    among applicants who would answer in either arm, for a pool share.

    Assumes monotone response: whoever answers in the arm with the lower response rate would
    answer in the other too. The respondents of the arm with the higher rate are trimmed by
    ``p = (q_high - q_low) / q_high``: dropping non-focal respondents first gives the upper
    bound of that arm's share, dropping focal ones first the lower bound; the other arm's
    share among respondents is taken as it is. None when both arms answer equally often or
    an arm has no respondent.
    """
    unknown, focal, _ = masks
    arm_values = frame["arm"].astype("str").to_numpy()
    ref, arm = analysed_arms(plan, h)
    stats = {}
    for a in (ref, arm):
        rows = arm_values == a
        n, answered = int(rows.sum()), int((rows & ~unknown).sum())
        if answered == 0:
            return None
        stats[a] = (answered / n, answered, int((rows & focal).sum()))
    high = arm if stats[arm][0] > stats[ref][0] else ref
    low = ref if high == arm else arm
    q_high, k_high, f_high = stats[high]
    q_low, k_low, f_low = stats[low]
    if q_high == q_low:
        return None
    trim = (q_high - q_low) / q_high
    share_low = f_low / k_low
    lower_high, upper_high = trimmed_share(k_high, f_high, trim)
    if high == arm:
        lower, upper = lower_high - share_low, upper_high - share_low
    else:
        lower, upper = share_low - upper_high, share_low - lower_high
    return {"lower": lower, "upper": upper, "trim": trim, "trimmed_arm": high}


def depends_on_missing(h: Hypothesis, interval: Interval) -> bool | None:
    """Whether the bounds straddle the criterion's threshold (module docstring); also used
    for the bounds of a later stage (``pilot_eval.later_stages``)."""
    low, high = interval.lower, interval.upper
    if low is None or high is None:
        return None
    scale = "ratio" if h.kind == "impact_ratio" else "difference"
    null = NO_EFFECT[scale]
    m = null if h.criterion.min_effect is None else h.criterion.min_effect
    if h.alternative == "greater":
        return low < m <= high
    if h.alternative == "less":
        return low <= m < high
    reach = abs(m - null)
    if reach == 0:
        return low < null < high
    within = low < null + reach and high > null - reach
    beyond = low <= null - reach or high >= null + reach
    return within and beyond


MIN_RESPONSE_PROBABILITY = 0.02
"""Modelled probabilities of answering below this are raised to it: a weight above 50 would
let a handful of respondents stand for a whole cell."""


def response_weighted(
    rows: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis, columns: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Applications with a response weight for the group's question (robustness
    ``response_weights``): per arm, a logistic regression of answering on ``columns`` (each a
    set of categories, a missing value its own), fitted with statsmodels; a respondent's
    weight is the inverse of the modelled probability, scaled to mean 1 over the arm's
    respondents. Applications that did not answer keep weight 1; they are left out of every
    comparison of the group anyway.

    Raises
    ------
    EstimationError
        When an arm has no respondent or no non-respondent, or the model separates them.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    from pilot_eval.errors import EstimationError

    unknown, _, _ = group_masks(rows, plan.groups[h.group])
    answered = (~unknown).astype(np.float64)
    weights = np.ones(len(rows))
    arm_values = rows["arm"].astype("str").to_numpy()
    largest = 0.0
    for arm in analysed_arms(plan, h):
        in_arm = arm_values == arm
        y = answered[in_arm]
        if y.min() == y.max():
            raise EstimationError(f"in arm {arm} everybody or nobody answered")
        parts = [
            pd.get_dummies(
                rows.loc[in_arm, c].astype("string").fillna("(missing)"),
                prefix=c,
                drop_first=True,
                dtype=np.float64,
            )
            for c in columns
        ]
        x = sm.add_constant(pd.concat(parts, axis=1).to_numpy(), has_constant="add")
        with warnings.catch_warnings():
            warnings.simplefilter("error", PerfectSeparationWarning)
            try:
                fit = sm.GLM(y, x, family=sm.families.Binomial()).fit()
            except (PerfectSeparationWarning, np.linalg.LinAlgError) as exc:
                raise EstimationError(
                    f"the response model of arm {arm} cannot be fitted: {exc}"
                ) from None
        p = np.maximum(fit.predict(x), MIN_RESPONSE_PROBABILITY)
        w = np.where(y == 1, 1 / p, 1.0)
        w[y == 1] /= w[y == 1].mean()
        weights[in_arm] = w
        largest = max(largest, float(w[y == 1].max()))
    existing = rows["weight"].to_numpy() if "weight" in rows else 1.0
    summary = {"method": "response weights", "columns": list(columns), "largest_weight": largest}
    return rows.assign(weight=weights * existing), summary
