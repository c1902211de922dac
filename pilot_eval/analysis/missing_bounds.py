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

How much of the missing values it takes (``tipping_share``): fill only a share of them, in
passers and non-passers alike, in the most extreme way and leave the rest out as the complete
case does; the smallest share that changes the conclusion says how fragile it is.

For a pool share and a change of a gap between arms, trimming bounds (Lee 2009) add one
assumption, monotone response, and concern those who would answer in either arm
(``lee_bounds``, ``lee_gap_bounds``). They are usually narrower, but they bound another
quantity and need not lie inside the worst-case bounds.

A conclusion depends on the missing values when the criterion says something else at the
two ends of the bounds (``verdict_at``): it is reached (``min_effect``, any effect when left
out; two-sided: on either side) at one end and not at the other, or, with a margin, one end
lies beyond the margin the harmful way and the other not.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pilot_eval.analysis.inference import threshold
from pilot_eval.data.frame import analysed_arms, group_masks
from pilot_eval.plan.model import BETWEEN_ARMS, NO_EFFECT, AnalysisPlan, Hypothesis

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


@dataclass(frozen=True)
class ArmCounts:
    """One arm's counts behind its bounds: applications (``n``) and focal ones (``f``) for a
    pool share; otherwise passers and applications of the focal (``x_f``, ``n_f``) and the
    reference group (``x_r``, ``n_r``); and the passers and non-passers whose value is
    missing (``passed``, ``failed``; for a pool share all missing count as ``failed``)."""

    n: int
    f: int
    x_f: int
    n_f: int
    x_r: int
    n_r: int
    passed: int
    failed: int

    @property
    def missing(self) -> int:
        return self.passed + self.failed


def _arm_counts(
    frame: pd.DataFrame, h: Hypothesis, rows: BoolArray, masks: tuple[BoolArray, ...]
) -> ArmCounts:
    unknown, focal, reference = (m & rows for m in masks)
    if h.kind == "pool_share":
        n, f, missing = int(rows.sum()), int(focal.sum()), int(unknown.sum())
        return ArmCounts(n, f, 0, 0, 0, 0, 0, missing)
    assert h.stage is not None  # the plan requires a stage for the other kinds
    success = frame[f"reached_{h.stage.to}"].to_numpy(dtype=bool)
    return ArmCounts(
        n=int(rows.sum()),
        f=int(focal.sum()),
        x_f=int((focal & success).sum()),
        n_f=int(focal.sum()),
        x_r=int((reference & success).sum()),
        n_r=int(reference.sum()),
        passed=int((unknown & success).sum()),
        failed=int((unknown & ~success).sum()),
    )


def _arm_interval(kind: str, c: ArmCounts, share: float = 1.0) -> Interval:
    """The arm's bounds when a ``share`` of its missing values (in each of passers and
    non-passers) is filled in the most extreme way and the rest left out, as the complete
    case does: 1 gives the worst-case bounds, 0 the complete case at both ends."""
    if kind == "pool_share":
        known, extra = c.n - c.missing, share * c.missing
        return Interval(
            _ratio(c.f, known + extra), _ratio(c.f, known), _ratio(c.f + extra, known + extra)
        )
    passed, failed = share * c.passed, share * c.failed
    best_f, worst_f = _ratio(c.x_f + passed, c.n_f + passed), _ratio(c.x_f, c.n_f + failed)
    best_r, worst_r = _ratio(c.x_r + passed, c.n_r + passed), _ratio(c.x_r, c.n_r + failed)
    rate_f, rate_r = _ratio(c.x_f, c.n_f), _ratio(c.x_r, c.n_r)
    combine = _quot if kind == "impact_ratio" else _diff
    return Interval(combine(worst_f, best_r), combine(rate_f, rate_r), combine(best_f, worst_r))


def _interval(
    h: Hypothesis, arms: Sequence[str], counts: Mapping[str, ArmCounts], share: float = 1.0
) -> Interval:
    """The comparison's bounds at ``share`` (``_arm_interval``): between arms, the lower
    bound of the arm minus the upper bound of the reference arm, and the other way round."""
    if h.kind not in BETWEEN_ARMS:
        return _arm_interval(h.kind, counts[arms[0]], share)
    ref, arm = (_arm_interval(h.kind, counts[a], share) for a in arms)
    return Interval(
        _diff(arm.lower, ref.upper),
        _diff(arm.complete_case, ref.complete_case),
        _diff(arm.upper, ref.lower),
    )


TIPPING_STEPS = 1000
"""The tipping share is searched on a grid of this many steps between 0 and 1."""


def tipping_share(
    h: Hypothesis, arms: Sequence[str], counts: Mapping[str, ArmCounts]
) -> float | None:
    """The smallest share of the missing values that, filled in the most extreme way (the
    rest left out), changes the criterion's conclusion at the complete-case value
    (``_conclusion``); None when even all of them do not. A degree for "depends on the
    missing values": 0.05 means a twentieth of those who did not answer suffices.

    Like the bounds, a statement about the pooled counts without sampling uncertainty; it is
    a tipping-point analysis (Yan, Lee & Li 2009, *J Biopharm Stat* 19(6)) whose departure
    from the complete case is counted in applicants, as the fragility index counts patients
    (Walsh et al. 2014, *J Clin Epidemiol* 67(6)).
    """
    start = _interval(h, arms, counts, 0.0).complete_case
    if start is None:
        return None
    at_start = _conclusion(h, start)
    for step in range(1, TIPPING_STEPS + 1):
        share = step / TIPPING_STEPS
        ends = _interval(h, arms, counts, share)
        for value in (ends.lower, ends.upper):
            if value is not None and _conclusion(h, value) != at_start:
                return share
    return None


def withheld_bounds(reason: str) -> dict[str, Any]:
    """The ``missing_data`` of a hypothesis whose bounds are not published, and why."""
    return {
        "method": "manski",
        "lower": None,
        "complete_case": None,
        "upper": None,
        "missing": None,
        "depends_on_missing": None,
        "verdicts": None,
        "tipping_share": None,
        "reason": reason,
        "lee": None,
    }


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
    counts = {a: _arm_counts(frame, h, reached & (arm_values == a), masks) for a in arms}
    missing = {a: c.missing for a, c in counts.items()}
    if not any(missing.values()):
        return None
    small = plan.disclosure.min_cell
    if any(0 < m < small for m in missing.values()):
        # the width of the bounds would give the number of missing values away
        return withheld_bounds(
            f"fewer than {small} applications without a value in an arm: bounds not published"
        )
    interval = _interval(h, arms, counts)
    out: dict[str, Any] = {
        "method": "manski",
        "lower": interval.lower,
        "complete_case": interval.complete_case,
        "upper": interval.upper,
        "missing": missing,
        "depends_on_missing": depends_on_missing(h, interval),
        "verdicts": verdicts_at_bounds(h, interval),
        "tipping_share": tipping_share(h, arms, counts),
        "reason": None,
        "lee": None,
    }
    if h.kind == "pool_share":
        out["lee"] = lee_bounds(frame, plan, h, masks)
    elif h.kind == "gap_difference":
        out["lee"] = lee_gap_bounds(frame, plan, h, masks, reached)
    if out["lee"] is not None:
        out["lee"]["verdicts"] = verdicts_at_bounds(
            h, Interval(out["lee"]["lower"], None, out["lee"]["upper"])
        )
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
    high, low, trim = trimming({arm: stats[arm][0], ref: stats[ref][0]})
    if trim == 0:
        return None
    _, k_high, f_high = stats[high]
    _, k_low, f_low = stats[low]
    lower, upper = _change(arm, high, trimmed_share(k_high, f_high, trim), f_low / k_low)
    return {"lower": lower, "upper": upper, "trim": trim, "trimmed_arm": high}


def trimming(shares: Mapping[str, float]) -> tuple[str, str, float]:
    """Lee (2009) trimming of two sets by the share of their members that is observed
    (answered, or reached a stage): the set with the higher share, the other, and the part
    ``p = (q_high - q_low) / q_high`` of the former's observed members to trim. On a tie
    the second set counts as the higher and ``p`` is 0."""
    (a, q_a), (b, q_b) = shares.items()
    high, low = (a, b) if q_a > q_b else (b, a)
    return high, low, (shares[high] - shares[low]) / shares[high]


def _change(
    arm: str, trimmed: str, bounds: tuple[float, float], other: float
) -> tuple[float, float]:
    """The bounds of ``arm`` minus the reference arm, when the ``trimmed`` arm lies within
    ``bounds`` and the other arm's value is ``other``."""
    if trimmed == arm:
        return bounds[0] - other, bounds[1] - other
    return other - bounds[1], other - bounds[0]


@dataclass(frozen=True)
class Cells:
    """The respondents of one arm among the reachers of a transition's first stage: passers
    and non-passers of the focal and the reference group, and those of neither group."""

    focal_pass: int
    focal_fail: int
    reference_pass: int
    reference_fail: int
    neither: int

    @property
    def total(self) -> int:
        return (
            self.focal_pass + self.focal_fail + self.reference_pass + self.reference_fail
        ) + self.neither

    def gap(self, drop: tuple[float, float, float, float] = (0, 0, 0, 0)) -> float | None:
        """The focal pass rate minus the reference one after dropping the given numbers of
        focal passers, focal non-passers, reference passers and reference non-passers."""
        fp, ff = self.focal_pass - drop[0], self.focal_fail - drop[1]
        rp, rf = self.reference_pass - drop[2], self.reference_fail - drop[3]
        if fp + ff <= 0 or rp + rf <= 0:
            return None
        return fp / (fp + ff) - rp / (rp + rf)


def trimmed_gap(cells: Cells, k: float) -> tuple[float | None, float | None]:
    """The smallest and the largest pass-rate gap after dropping ``k`` of the respondents,
    any of them (Lee trimming of a gap).

    The gap rises with every focal non-passer or reference passer dropped and falls with
    every focal passer or reference non-passer; dropping someone of neither group leaves it.
    The largest gap therefore drops ``k`` of the first two kinds (then of neither group), and
    is a convex function of how they split, so one of the split's two ends gives it; the
    smallest likewise with the other two kinds. None when a group would be emptied or the
    drop needs more than the kinds that help and those of neither group.
    """

    def extreme(first: int, second: int, largest: bool) -> float | None:
        helping = min(k, first + second)
        if k - helping > cells.neither + 1e-9:
            return None
        values = []
        for t in (max(0.0, helping - second), min(helping, float(first))):
            # t of the first kind and the rest of the second
            drop = (0.0, t, helping - t, 0.0) if largest else (t, 0.0, 0.0, helping - t)
            value = cells.gap(drop)
            if value is None:
                return None
            values.append(value)
        return max(values) if largest else min(values)

    return (
        extreme(cells.focal_pass, cells.reference_fail, largest=False),
        extreme(cells.focal_fail, cells.reference_pass, largest=True),
    )


def _cells(masks: tuple[BoolArray, ...], rows: BoolArray, success: BoolArray) -> Cells:
    unknown, focal, reference = (m & rows for m in masks)
    return Cells(
        int((focal & success).sum()),
        int((focal & ~success).sum()),
        int((reference & success).sum()),
        int((reference & ~success).sum()),
        int((rows & ~unknown & ~focal & ~reference).sum()),
    )


def lee_gap_bounds(
    frame: pd.DataFrame,
    plan: AnalysisPlan,
    h: Hypothesis,
    masks: tuple[BoolArray, ...],
    reached: BoolArray,
) -> dict[str, Any] | None:
    """Trimming bounds on the change of a pass-rate gap between arms among the reachers of
    the transition's first stage who would answer the group's question in either arm.

    Assumes monotone response, as ``lee_bounds``: the arm whose reachers answer more often
    has ``p = (q_high - q_low) / q_high`` of its respondents trimmed, in the way that makes
    its gap smallest and largest (``trimmed_gap``); the other arm's gap among respondents is
    taken as it is. None when both arms answer equally often, an arm has no respondent, or a
    group would be emptied.
    """
    assert h.stage is not None
    unknown = masks[0]
    success = frame[f"reached_{h.stage.to}"].to_numpy(dtype=bool)
    arm_values = frame["arm"].astype("str").to_numpy()
    ref, arm = analysed_arms(plan, h)
    cells, rate = {}, {}
    for a in (ref, arm):
        rows = reached & (arm_values == a)
        cells[a] = _cells(masks, rows, success)
        answered = int((rows & ~unknown).sum())
        if answered == 0:
            return None
        rate[a] = answered / int(rows.sum())
    high, low, trim = trimming({arm: rate[arm], ref: rate[ref]})
    if trim == 0:
        return None
    low_gap = cells[low].gap()
    smallest, largest = trimmed_gap(cells[high], trim * cells[high].total)
    if low_gap is None or smallest is None or largest is None:
        return None
    lower, upper = _change(arm, high, (smallest, largest), low_gap)
    return {"lower": lower, "upper": upper, "trim": trim, "trimmed_arm": high}


TIE = 1e-12
"""Values this close to no effect or to the threshold count as equal to it: bounds computed
by different routes agree only to rounding."""

BOUND_VERDICTS = ("reached", "above", "below", "short", "none", "within_margin", "opposite")
"""What the criterion says of a value at one end of bounds, judged as if it were the true
value: it reaches the criterion's threshold (``min_effect``, any effect without one; for a
two-sided hypothesis ``above`` or ``below`` no effect); it lies on the expected side of no
effect but short of the threshold; no effect; it lies on the other side, within the
criterion's margin; or on the other side (beyond the margin when there is one)."""


AGREES_WITH = {
    "met": frozenset({"reached", "above", "below"}),
    "harm": frozenset({"opposite"}),
    "non_inferior": frozenset({"reached", "above", "below", "short", "none", "within_margin"}),
    "equivalent": frozenset({"short", "none", "within_margin"}),
    "not_met": frozenset({"short", "none", "within_margin", "opposite"}),
}
"""For a verdict (and ``harm``), the words of ``BOUND_VERDICTS`` at a bound that agree with
it: the verdict holds across bounds whose two ends both say one of them."""


def verdict_at(h: Hypothesis, value: float | None) -> str | None:
    """The word of ``BOUND_VERDICTS`` for ``value``."""
    if value is None:
        return None
    scale = "ratio" if h.kind == "impact_ratio" else "difference"
    null, m = NO_EFFECT[scale], threshold(h, scale)
    sign = {"greater": 1, "less": -1, "two-sided": 1 if value >= null else -1}[h.alternative]
    ahead, needed = sign * (value - null), abs(m - null)
    if abs(ahead) < TIE:
        return "none"
    if ahead > 0 and ahead >= needed - TIE:
        if h.alternative == "two-sided":
            return "above" if sign > 0 else "below"
        return "reached"
    if ahead > 0:
        return "short"
    margin = h.criterion.margin
    return "within_margin" if margin is not None and -ahead < margin else "opposite"


def verdicts_at_bounds(h: Hypothesis, interval: Interval) -> dict[str, str | None]:
    """What the criterion says at the lower and the upper bound."""
    return {"lower": verdict_at(h, interval.lower), "upper": verdict_at(h, interval.upper)}


def _conclusion(h: Hypothesis, value: float) -> tuple[str, bool]:
    """Whether the criterion is reached at ``value`` (on which side, two-sided), and
    whether, with a margin, the value lies beyond it the harmful way."""
    word = verdict_at(h, value)
    reached = word if word in ("reached", "above", "below") else "not reached"
    return reached, h.criterion.margin is not None and word == "opposite"


def depends_on_missing(h: Hypothesis, interval: Interval) -> bool | None:
    """Whether the criterion's conclusion differs between the two ends of the bounds (it
    is reached at one end and not at the other, or, with a margin, the margin is crossed);
    also used for the bounds of a later stage (``pilot_eval.analysis.later_stages``)."""
    low, high = interval.lower, interval.upper
    if low is None or high is None:
        return None
    return _conclusion(h, low) != _conclusion(h, high)


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
