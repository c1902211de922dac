"""Answers to the questions Parliament asked, in plain words, from results.json.

The Eerste Kamer asked (18 June 2024) how the pilot is evaluated and by whom; whether the
anonymous questionnaire gives a more diverse selection; whether groups (older applicants,
applicants with a disability, women) are put at a disadvantage; whether the structured
interview works as intended; how the pilot relates to the diversity of central government
as a whole; how privacy is protected; and how certain the conclusions are. Each answer
says what the results show, with the number, how uncertain it is, the verdict in words and
what makes a conclusion fragile. No statistic is computed here: every number comes from
results.json (the plain percentages of a transition are two of its published counts divided),
every word from the catalogue's ``questions``.

The three interventions are applied together, so the evaluation cannot separate them; what
it can do is read each at the stage where it acts (the vacancy text: who applies; the
questionnaire: the first selection; the structured interview: the choice after the
interview), and the answers say so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pilot_eval.analysis.design_checks import STD_DIFF_THRESHOLD
from pilot_eval.analysis.missing_bounds import AGREES_WITH
from pilot_eval.analysis.records import Results
from pilot_eval.analysis.records.other_evidence import InterviewQuality, MarginComparison
from pilot_eval.analysis.records.statistics import (
    ArmScoreGap,
    Contradiction,
    HypothesisResult,
    MissingDataBounds,
    PopulationWeighting,
    Stage,
)
from pilot_eval.plan.model import BETWEEN_ARMS, STAGES

FIRST_SELECTION = ("applied", "invited")
"""The transition at which the anonymous questionnaire acts."""

AFTER_INTERVIEW = STAGES.index("interviewed")
"""Transitions from this stage on follow the structured interview."""

GROUPS_ASKED_ABOUT = ("age_band", "disability", "gender")
"""The columns of the groups the Senate named: older applicants, applicants with a
disability, women."""


@dataclass(frozen=True)
class Answer:
    """One question and its answer: in a word or two where the question asks yes or no
    (``plain``, empty where it does not), in one or two sentences (``short``, for the page
    that answers every question), then paragraphs and one line per finding."""

    key: str
    question: str
    short: str
    paragraphs: tuple[str, ...]
    findings: tuple[str, ...]
    plain: str = ""


RELIABILITY_BANDS = ((0.9, "excellent"), (0.75, "good"), (0.5, "moderate"))
"""Koo and Li (2016): an intraclass correlation of 0.9 or more is excellent, 0.75 to 0.9
good, 0.5 to 0.75 moderate, below 0.5 poor."""


class WithInterval(Protocol):
    """A value with its confidence interval (a reliability, an agreement)."""

    @property
    def value(self) -> float | None: ...

    @property
    def ci_low(self) -> float | None: ...

    @property
    def ci_high(self) -> float | None: ...


class Formats(Protocol):
    """How numbers and dates are written in the report's language (``report.Formatter``)."""

    def num(self, value: float | None, digits: int = 3) -> str: ...

    def count(self, value: int | None) -> str: ...

    def pct(self, value: float | None) -> str: ...

    def day(self, iso: str) -> str: ...


class _Words:
    """The catalogue and the number formats of one report."""

    def __init__(
        self,
        results: Results,
        messages: Mapping[str, Any],
        formats: Formats,
        reason: Callable[[str | None], str | None],
    ) -> None:
        self.r = results
        self.m = messages
        self.q = messages["questions"]
        self.num, self.count, self.pct, self.day = (
            formats.num,
            formats.count,
            formats.pct,
            formats.day,
        )
        self.reason = reason

    def label(self, value: Any) -> str:
        return str(self.m["labels"].get(str(value), value))

    def labels(self, values: Sequence[Any]) -> str:
        return "/".join(self.label(v) for v in values)

    def join(self, items: Sequence[str]) -> str:
        """Items as a list in words: "a, b en c"."""
        if len(items) < 2:
            return "".join(items)
        return ", ".join(items[:-1]) + f" {self.q['and']} " + items[-1]

    def unstated(self, value: str | None) -> str:
        return value if value else str(self.q["not_in_plan"])

    def with_interval(self, x: WithInterval) -> str:
        """A value with two decimals and, when it has one, its interval."""
        text = self.num(x.value, 2)
        if x.ci_low is not None and x.ci_high is not None:
            text += " " + str(self.q["between"]).format(
                low=self.num(x.ci_low, 2), high=self.num(x.ci_high, 2)
            )
        return text

    def amount(self, value: float | None, scale: str, unit: bool = True) -> str:
        """A value of ``scale`` as the report's text gives it: a difference of rates in
        percentage points (with the unit unless ``unit`` is false), others with two
        decimals."""
        if value is None:
            return "–"
        if scale == "difference":
            text = self.num(value * 100, 1)
            return f"{text} {self.m['summary']['points']}" if unit else text
        return self.num(value, 2)

    def criterion(self, h: HypothesisResult) -> str:
        """The plan's criterion of ``h`` in words, on its deciding estimator's scale: when it
        is met, and with a margin when 'no disadvantage beyond it' is shown instead."""
        scale = h.decision.scale
        null = 0.0 if scale in ("difference", "smd") else 1.0
        m = h.criterion.min_effect
        if h.criterion.rule == "bound":
            rules = self.m["criteria_bound"]
        else:
            rules = self.m["criteria_zero"] if m == null else self.m["criteria"]
        # the distance from no effect: a ratio's distance is a plain number
        distance = "smd" if scale in ("ratio", "odds_ratio") else scale
        words = {
            "{m}": self.amount(m, scale),
            "{alpha}": self.num(self.r.plan.alpha, 2),
            "{reach}": self.amount(None if m is None else abs(m - null), distance),
            "{null}": self.amount(null, scale),
        }
        text = str(rules[h.alternative])
        if h.criterion.margin is not None:
            text += str(self.m["criteria_margin"][h.alternative]).replace(
                "{margin}", self.amount(h.criterion.margin, distance)
            )
        for key, value in words.items():
            text = text.replace(key, value)
        return text

    def what(self, h: HypothesisResult) -> str:
        """The comparison of a hypothesis in words (the catalogue's ``questions.what``)."""
        group = self.r.plan.groups[h.group]
        arms = self.r.plan.design.arms
        text = str(self.q["what"][h.kind])
        words = {
            "{focal}": self.labels(group.focal),
            "{reference}": self.labels(group.reference),
            "{arm}": self.label(h.arm),
            "{ref_arm}": self.label(arms[0]),
            "{score}": self.label(h.score) if h.score else "",
        }
        if h.stage:
            words["{from}"] = str(self.m["stages"][h.stage.from_])
            words["{to}"] = str(self.m["stages"][h.stage.to])
        for key, value in words.items():
            text = text.replace(key, value)
        return text

    def rate(self, group: str, arm: str, side: str, stage: Stage) -> float | None:
        """The published share of a side of ``group`` in ``arm`` that went from one stage to
        the next (pooled over vacancies), or None where a count is not published."""
        funnel = self.r.descriptives.funnel.get(group)
        sides = funnel.arms[arm].sides if funnel is not None and arm in funnel.arms else {}
        reached = sides[side].reached if side in sides else {}
        before, after = reached.get(stage.from_), reached.get(stage.to)
        if not before or after is None:
            return None
        return float(after) / float(before)

    def rates(self, h: HypothesisResult) -> str:
        """For a transition: the plain percentages behind the comparison, per arm."""
        if not h.stage or h.kind not in ("gap_difference", "stage_gap"):
            return ""
        arms = self.r.plan.design.arms
        shown = [arms[0], arms[-1]] if h.kind == "gap_difference" else [h.arm]
        group = self.r.plan.groups[h.group]
        parts = []
        for arm in shown:
            focal = self.rate(h.group, arm, "focal", h.stage)
            reference = self.rate(h.group, arm, "reference", h.stage)
            if focal is None or reference is None:
                return ""
            parts.append(
                str(self.q["rates_arm"]).format(
                    arm=self.label(arm),
                    focal=self.pct(focal),
                    reference=self.pct(reference),
                    focal_group=self.labels(group.focal),
                    reference_group=self.labels(group.reference),
                )
            )
        return str(self.q["rates"]).format(to=self.m["stages"][h.stage.to], arms="; ".join(parts))

    def caveats(self, h: HypothesisResult) -> list[str]:
        """What could change what is said about ``h``, in words: a pre-registered analysis
        with another verdict, tests that disagree, missing answers, selection at a later
        stage."""
        out = []
        found = {c.kind: c for c in self.r.contradictions if c.hypothesis == h.id}
        for kind in ("robustness_flip", "tests_disagree", "pooled_vs_stratified"):
            if kind in found:
                out.append(self._contradiction(kind, found[kind]))
        missing = h.missing_data
        if missing is not None and missing.depends_on_missing:
            out.append(self._missing(h, missing))
        later = h.later_stage.stratum_bounds if h.later_stage else None
        if later is not None and later.depends_on_selection:
            out.append(str(self.q["fragile"]["selection"]))
        return out

    @staticmethod
    def firm(h: HypothesisResult) -> bool:
        """Whether ``h`` has a conclusion that could be overturned: a verdict other than
        "no conclusion" (which a caveat makes only less certain)."""
        return h.decision.estimate is not None and h.verdict != "inconclusive"

    def fragile(self, h: HypothesisResult) -> list[str]:
        """Why a conclusion about ``h`` is fragile, in words; empty without a conclusion."""
        return self.caveats(h) if self.firm(h) else []

    def _contradiction(self, kind: str, found: Contradiction) -> str:
        """A contradiction in words; a robustness reversal names the analysis."""
        spec = found.specification
        if kind != "robustness_flip" or not spec:
            return str(self.q["fragile"][kind])
        described = next(
            (
                s.description.rstrip(". ")
                for s in self.r.robustness
                if s.specification == spec and s.hypothesis == found.hypothesis
            ),
            "",
        )
        return str(self.q["fragile"]["robustness_named"]).format(
            spec=spec, description=described or spec
        )

    def brief(self, h: HypothesisResult) -> str:
        """A hypothesis in a few words: its number with interval and the verdict."""
        d = h.decision
        if d.estimate is None:
            return f"{h.id} {self.m['verdicts']['not_estimable']}"
        word = str(self.m["verdicts"][h.verdict])
        if h.harm:
            word = str(self.m["summary"]["harm_short"])
        elif h.group_disadvantaged:
            word = str(self.m["summary"]["disadvantaged_short"])
        unit = f" {self.m['summary']['points']}" if d.scale == "difference" else ""
        text = str(self.q["brief"]).format(
            id=h.id,
            estimate=self.amount(d.estimate, d.scale, unit=False),
            low=self.amount(d.ci_low, d.scale, unit=False),
            high=self.amount(d.ci_high, d.scale, unit=False),
            unit=unit,
            verdict=word,
        )
        return text + (f" ({self.q['fragile_short']})" if self.fragile(h) else "")

    def briefs(self, rows: Sequence[HypothesisResult], named: bool = False) -> str:
        """Several hypotheses in a few words each; ``named`` puts what each compares first."""
        if not rows:
            return str(self.q["none"])
        return "; ".join((f"{self.who(h)}: " if named else "") + self.brief(h) for h in rows)

    def who(self, h: HypothesisResult) -> str:
        """Which group, against which, at which step: the short form of :meth:`what`."""
        group = self.r.plan.groups[h.group]
        text = str(self.q["who"]).format(
            focal=self.labels(group.focal), reference=self.labels(group.reference)
        )
        if h.stage:
            text += " " + str(self.q["who_stage"]).format(to=self.m["stages"][h.stage.to])
        if h.kind not in BETWEEN_ARMS:  # a gap within one arm: say which
            text += " " + str(self.q["who_arm"]).format(arm=self.label(h.arm))
        return text

    def reached(self, h: HypothesisResult, arms: Sequence[str]) -> int | None:
        """How many applications of ``arms`` reached the first stage of ``h`` (all
        applications for a pool share); None where a count is withheld."""
        stage = h.stage.from_ if h.stage else STAGES[0]
        counts = [self.r.descriptives.arms[a].reached.get(stage) for a in arms]
        known = [c for c in counts if c is not None]
        return None if len(known) < len(counts) else sum(known)

    def _missing(self, h: HypothesisResult, missing: MissingDataBounds) -> str:
        """How much the missing answers could move the comparison: how many of those who
        did not answer would have to turn out against the conclusion to overturn it, and
        the worst-case range; counts only when every count is published."""
        scale = h.decision.scale
        counts = list((missing.missing or {}).values())
        low, high = missing.lower, missing.upper
        if low is None or high is None:
            return str(self.q["fragile"]["missing"])
        ends = {"low": self.amount(low, scale, unit=False), "high": self.amount(high, scale)}
        known = [c for c in counts if c is not None]
        if not counts or len(known) < len(counts):
            return str(self.q["fragile"]["missing_range"]).format(**ends)
        n, tipping = sum(known), missing.tipping_share
        ends["total"] = self.count(self.reached(h, list(missing.missing or {})))
        if tipping is not None and self.firm(h):
            text = str(self.q["fragile"]["missing_tipping"]).format(
                n=self.count(n),
                k=self.count(math.ceil(tipping * n)),
                share=self.pct(tipping),
                **ends,
            )
        else:
            text = str(self.q["fragile"]["missing_counted"]).format(n=self.count(n), **ends)
        lee = missing.lee
        if lee is not None and lee.lower is not None and lee.upper is not None:
            text += "; " + str(self.q["fragile"]["lee"]).format(
                low=self.amount(lee.lower, scale, unit=False),
                high=self.amount(lee.upper, scale),
            )
            ends_say = lee.verdicts
            if self.firm(h) and ends_say is not None and ends_say.lower and ends_say.upper:
                agree = AGREES_WITH["harm" if h.harm else h.verdict]
                holds = ends_say.lower in agree and ends_say.upper in agree
                text += str(self.q["fragile"]["lee_holds" if holds else "lee_open"])
        return text

    def finding(self, h: HypothesisResult) -> str:
        """One hypothesis in a sentence: what, how much, how uncertain, the verdict."""
        d = h.decision
        head = f"{h.id} · {self.what(h)}"
        if d.estimate is None:
            why = self.reason(d.reason or h.reason) or ""
            return str(self.q["not_estimable"]).format(what=head, reason=why)
        verdict = str(self.q["verdicts"][h.verdict])
        if h.verdict == "inconclusive" and h.alternative == "two-sided":
            verdict = str(self.q["no_difference_shown"])
        if h.harm:
            verdict = str(self.q["harm"])
        elif h.group_disadvantaged:
            verdict = str(self.q["disadvantaged"])
        elif h.verdict == "met" and h.min_effect_shown is False:
            verdict += " " + str(self.q["min_effect_not_shown"]).format(
                m=self.amount(h.criterion.min_effect, d.scale)
            )
        text = str(self.q["finding"]).format(
            what=head,
            estimate=self.amount(d.estimate, d.scale),
            low=self.amount(d.ci_low, d.scale, unit=False),
            high=self.amount(d.ci_high, d.scale, unit=False),
            unit=f" {self.m['summary']['points']}" if d.scale == "difference" else "",
            verdict=verdict,
        )
        text += " " + str(self.q["criterion"]).format(criterion=self.criterion(h))
        if h.verdict == "inconclusive" and h.minimum_detectable_effect is not None:
            text += " " + str(self.q["too_small"]).format(
                mde=self.amount(h.minimum_detectable_effect, d.scale)
            )
        rates = self.rates(h)
        if rates:
            text += " " + rates
        whole = h.later_stage.from_application if h.later_stage else None
        if whole is not None and whole.estimate is not None and h.stage is not None:
            text += " " + str(self.q["from_application"]).format(
                to=self.m["stages"][h.stage.to],
                estimate=self.amount(whole.estimate, d.scale),
                low=self.amount(whole.ci_low, d.scale, unit=False),
                high=self.amount(whole.ci_high, d.scale, unit=False),
                unit=f" {self.m['summary']['points']}" if d.scale == "difference" else "",
            )
        reach = h.disadvantage_not_ruled_out
        if reach is not None and not h.harm:
            text += " " + str(self.q["not_ruled_out"]).format(worst=self.amount(reach, d.scale))
            margin, mde = h.criterion.margin, h.minimum_detectable_effect
            # both distances from no effect only on these scales
            additive = d.scale in ("difference", "smd")
            if additive and margin is not None and mde is not None and abs(margin) < abs(mde):
                text += " " + str(self.q["margin_below_mde"]).format(
                    margin=self.amount(margin, d.scale), mde=self.amount(mde, d.scale)
                )
        reasons = self.caveats(h)
        if reasons:
            intro = self.q["fragile_intro"] if self.firm(h) else self.q["caveat_intro"]
            text += " " + str(intro) + " " + "; ".join(reasons) + "."
        return text


def _stage_index(h: HypothesisResult) -> int | None:
    return None if not h.stage else STAGES.index(h.stage.from_)


def _how(w: _Words) -> Answer:
    plan = w.r.plan
    ev = plan.evaluation
    hypotheses = w.r.hypotheses
    first_family = hypotheses[0].family if hypotheses else None
    primary = [h for h in hypotheses if h.family == first_family]
    met = [h.id for h in primary if h.verdict == "met"]
    amendments, after = _amendments(w)
    fragile = [h for h in met if w.fragile(next(x for x in primary if x.id == h))]
    paragraphs = [
        str(w.q["how"]["who"]).format(
            evaluator=w.unstated(ev.evaluator),
            commissioner=w.unstated(ev.commissioner),
            independence=w.unstated(ev.independence),
        ),
        str(w.q["how"]["plan"]).format(
            date=w.day(plan.registered_on),
            access=w.m["data_access"][plan.data_access_at_registration],
            n=len(hypotheses),
            amendments=amendments,
            after=after,
        )
        if plan.locked
        else str(w.q["how"]["not_locked"]),
        *_period(w),
        str(w.q["how"]["success"]).format(success=w.unstated(ev.success)),
        str(w.q["how"]["primary"]).format(
            ids=", ".join(h.id for h in primary),
            met=", ".join(met) if met else str(w.q["none"]),
            fragile=", ".join(fragile) if fragile else str(w.q["none"]),
        ),
    ]
    short = str(w.q["how"]["short"]).format(
        date=w.day(plan.registered_on),
        amendments=amendments,
        after=after,
        n=len(hypotheses),
        met=len(met),
        primary=len(primary),
        fragile=", ".join(fragile) if fragile else str(w.q["none"]),
        evaluator=w.unstated(ev.evaluator),
    )
    harmed = [h.id for h in hypotheses if h.harm or h.group_disadvantaged]
    if harmed:
        short += " " + str(w.q["how"]["harm_shown"]).format(ids=", ".join(harmed))
    return Answer("how", str(w.q["how"]["question"]), short, tuple(paragraphs), ())


def _period(w: _Words) -> list[str]:
    """The period of the vacancies the evaluation covers, when the data give it."""
    period = w.r.descriptives.period
    if period is None or not period.first or not period.last:
        return []
    return [str(w.q["how"]["period"]).format(first=w.day(period.first), last=w.day(period.last))]


def _share_all_applied(w: _Words) -> dict[str, str]:
    """How many of the pilot arm's vacancies applied all three interventions, of how many."""
    arms = w.r.plan.design.arms
    present = w.r.diagnostics.fidelity.all_present
    arm = present.arms.get(arms[-1]) if present is not None else None
    return {
        "share": w.pct(arm.share_all_applied if arm else None),
        "k": w.count(arm.n_all_applied if arm else None),
        "n": w.count(arm.n_vacancies if arm else None),
    }


def _questionnaire(w: _Words) -> Answer:
    hypotheses = w.r.hypotheses
    main_group = hypotheses[0].group if hypotheses else None
    pool = [h for h in hypotheses if h.kind == "pool_share" and h.group == main_group]
    first = [
        h
        for h in hypotheses
        if h.stage and (h.stage.from_, h.stage.to) == FIRST_SELECTION and h.group == main_group
    ]
    scores = [h for h in hypotheses if h.kind == "score_gap" and h.group == main_group]
    paragraphs = [
        str(w.q["bundle"]).format(arm=w.label(w.r.plan.design.arms[-1]), **_share_all_applied(w)),
        str(w.q["questionnaire"]["reading"]),
    ]
    findings = [w.finding(h) for h in (*pool, *first, *scores)]
    if not first:
        findings.append(str(w.q["questionnaire"]["untested"]))
    between = [h for h in first if h.kind in BETWEEN_ARMS]
    group = w.r.plan.groups[main_group] if main_group else None
    short = str(w.q["questionnaire"]["short"]).format(
        pool=w.briefs(pool),
        first=w.briefs(between),
        focal=w.labels(group.focal if group else []),
        reference=w.labels(group.reference if group else []),
    )
    question = str(w.q["questionnaire"]["question"])
    plain = _plain_effect(w, between)
    return Answer("questionnaire", question, short, tuple(paragraphs), tuple(findings), plain)


def _disadvantage(w: _Words) -> Answer:
    plan = w.r.plan
    findings: list[str] = []
    untested: list[str] = []
    asked: list[HypothesisResult] = []
    for column in GROUPS_ASKED_ABOUT:
        names = [g for g, x in plan.groups.items() if x.column == column]
        tested = [h for h in w.r.hypotheses if h.group in names]
        if not tested:
            untested.append(w.label(column))
            findings.append(str(w.q["disadvantage"]["untested"]).format(group=w.label(column)))
        findings += [w.finding(h) for h in tested]
        asked += tested
    # the Senate names these groups as examples: a disadvantage shown for another group is
    # part of the answer too
    named = {h.id for h in asked}
    others = [h for h in w.r.hypotheses if h.id not in named and (h.harm or h.group_disadvantaged)]
    findings += [w.finding(h) for h in others]
    harmed = [h for h in (*asked, *others) if h.harm or h.group_disadvantaged]
    shown = [h.id for h in harmed]
    q_open_item = w.q["disadvantage"]["open_item"]
    open_ = [
        str(q_open_item).format(
            focal=w.labels(plan.groups[h.group].focal),
            to=w.m["stages"][h.stage.to] if h.stage else "",
            worst=w.amount(h.disadvantage_not_ruled_out, h.decision.scale),
            id=h.id,
        )
        for h in asked
        if h.disadvantage_not_ruled_out is not None and h.id not in shown
    ]
    q = w.q["disadvantage"]
    parts = [
        str(q["short_shown"]).format(findings=w.briefs(harmed, named=True))
        if harmed
        else str(q["short_none"])
    ]
    if open_:
        key = "short_open_also" if harmed else "short_open"
        parts.append(str(q[key]).format(ids=", ".join(open_)))
    rest = [
        h
        for h in asked
        if h.id not in shown
        and h.disadvantage_not_ruled_out is None
        and h.decision.estimate is not None
        and h.stage
    ]
    if rest:
        parts.append(str(q["short_other"]).format(findings=w.briefs(rest, named=True)))
    if untested:
        parts.append(str(q["short_untested"]).format(groups=", ".join(untested)))
    paragraphs = (str(q["reading"]),)
    plain = _plain_disadvantage(w, harmed, asked, bool(open_), bool(untested))
    question = str(q["question"])
    return Answer("disadvantage", question, " ".join(parts), paragraphs, tuple(findings), plain)


def _plain_disadvantage(
    w: _Words,
    harmed: Sequence[HypothesisResult],
    asked: Sequence[HypothesisResult],
    open_: bool,
    untested: bool,
) -> str:
    """Question 3 in a few words: yes when a disadvantage is shown for the pilot (harm
    between the arms, or a gap within an arm other than the reference arm); a gap of the
    regular procedure alone is not the pilot's doing; otherwise not shown, and whether a
    disadvantage beyond the margin is left open."""
    words = w.q["plain"]
    tested = bool(asked)
    estimated = any(h.decision.estimate is not None for h in asked)
    by_pilot = [h for h in harmed if h.harm or h.arm != w.r.plan.design.arms[0]]
    if by_pilot:
        plain = str(words["yes"])
        if any(w.fragile(h) for h in by_pilot):
            plain = str(words["fragile"]).format(answer=plain)
        return plain
    if harmed:
        return str(words["regular_only_open" if open_ else "regular_only"])
    if not tested:
        return str(words["untested"])
    if not estimated:
        return str(words["open"])
    plain = str(words["not_shown_open" if open_ else "not_shown"])
    return str(words["as_tested"]).format(answer=plain) if untested else plain


def _interview(w: _Words) -> Answer:
    after = [
        h
        for h in w.r.hypotheses
        if (_stage_index(h) or 0) >= AFTER_INTERVIEW and h.kind in BETWEEN_ARMS
    ]
    paragraphs = [str(w.q["interview"]["reading"])]
    quality = w.r.evidence.interview_quality
    paragraphs.append(_reliability(w, quality))
    paragraphs += _rating_gaps(w, quality)
    paragraphs += _workshop(w)
    findings = [w.finding(h) for h in after]
    if not after:
        findings.append(str(w.q["interview"]["untested"]))
    question = str(w.q["interview"]["question"])
    # the groups of question 3 are answered there; the short answer keeps the others
    asked = {g for g, x in w.r.plan.groups.items() if x.column in GROUPS_ASKED_ABOUT}
    others = [h for h in after if h.group not in asked] or after
    after_text = str(w.q["interview"]["short"]).format(after=w.briefs(others, named=True))
    short = _reliability(w, quality, "reliability_short") + " " + after_text
    plain = str(w.q["plain"]["interview"]).format(
        consistency=_consistency(w, quality), effect=_plain_effect(w, others).lower()
    )
    return Answer("interview", question, short, tuple(paragraphs), tuple(findings), plain)


def _plain_effect(w: _Words, rows: Sequence[HypothesisResult]) -> str:
    """Whether the comparisons between arms show the intended effect, in a word: yes when
    every one meets its criterion, partly when some do, no when one shows harm or misses
    its criterion (or shows the effect within the margin), else that it cannot be told."""
    words = w.q["plain"]
    if not rows:
        return str(words["untested"])
    if any(h.harm for h in rows):
        return str(words["harm"])
    met = [h for h in rows if h.verdict == "met"]
    if met:
        answer = str(words["yes" if len(met) == len(rows) else "partly"])
        fragile = any(w.fragile(h) for h in met)
        return str(words["fragile"]).format(answer=answer) if fragile else answer
    # non_inferior and equivalent show only that no effect beyond the margin exists: the
    # intended effect is not shown either way
    if any(h.verdict == "not_met" for h in rows):
        return str(words["no"])
    return str(words["open"])


def _consistency(w: _Words, quality: InterviewQuality | None) -> str:
    """How far assessors agree, in a word (Koo and Li's bands), from the lower of the arms'
    reliabilities."""
    bands = w.q["plain"]["consistency"]
    values = [x.value for x in (quality.reliability if quality else {}).values()]
    if not values or any(v is None for v in values):
        return str(bands["unmeasured"])
    lowest = min(v for v in values if v is not None)
    return str(bands[next((band for bound, band in RELIABILITY_BANDS if lowest >= bound), "poor")])


def _reliability(w: _Words, quality: InterviewQuality | None, key: str = "reliability") -> str:
    """The reliability of a committee's mean rating per arm, with its interval (``key``:
    the catalogue's sentence, in full or short)."""
    reliability = quality.reliability if quality is not None else {}
    arms = w.r.plan.design.arms
    if not reliability or any(a not in reliability or reliability[a].value is None for a in arms):
        return str(w.q["interview"]["no_ratings"])
    return str(w.q["interview"][key]).format(
        pilot=w.with_interval(reliability[arms[-1]]),
        control=w.with_interval(reliability[arms[0]]),
        arm=w.label(arms[-1]),
        ref_arm=w.label(arms[0]),
    )


def _rating_gaps(w: _Words, quality: InterviewQuality | None) -> list[str]:
    """The gap in interview ratings between each group's focal and reference values per
    arm, and its change with its interval."""
    arms = w.r.plan.design.arms
    out = []
    for gap in (quality.gaps if quality is not None else None) or []:
        per_arm, change = gap.per_arm, gap.difference_between_arms
        ends = [x.estimate if isinstance(x := per_arm.get(a), ArmScoreGap) else None for a in arms]
        if None in ends or change is None or change.estimate is None:
            continue
        group = w.r.plan.groups[gap.group]
        out.append(
            str(w.q["interview"]["rating_gap"]).format(
                focal=w.labels(group.focal),
                reference=w.labels(group.reference),
                ref_arm=w.label(arms[0]),
                arm=w.label(arms[-1]),
                before=w.num(ends[0], 2),
                after=w.num(ends[-1], 2),
                change=w.num(change.estimate, 2),
                low=w.num(change.ci_low, 2),
                high=w.num(change.ci_high, 2),
            )
        )
    return out


def _workshop(w: _Words) -> list[str]:
    """Attendance of the mandatory workshop in the first and the last year, with counts."""
    training = w.r.evidence.committee_training
    if training is None:
        return []
    overall = [y for y in training.overall if y.compliance is not None]
    if overall:
        first, last = overall[0], overall[-1]
        return [
            str(w.q["interview"]["workshop"]).format(
                first_year=first.year,
                first=w.pct(first.compliance),
                first_k=w.count(first.members_trained),
                first_n=w.count(first.members_required),
                last_year=last.year,
                last=w.pct(last.compliance),
                last_k=w.count(last.members_trained),
                last_n=w.count(last.members_required),
                departments=len(training.departments),
            )
        ]
    return []


def _focal_share(w: _Words, group: str, arm: str) -> str:
    spec = w.r.plan.groups[group]
    column = w.r.descriptives.arms[arm].demographics.get(spec.column)
    counts = column.counts if column is not None else {}
    if not counts:
        return "–"
    known = [v for k, v in counts.items() if k != "not_reported"]
    focal = [v for k, v in counts.items() if k in {str(x) for x in spec.focal}]
    shown = [v for v in (*known, *focal) if v is not None]
    if len(shown) < len(known) + len(focal) or not sum(v or 0 for v in known):
        return str(w.q["hidden"])
    return w.pct(sum(v or 0 for v in focal) / sum(v or 0 for v in known))


def _representative(w: _Words) -> Answer:
    plan = w.r.plan
    arms = plan.design.arms
    representativeness = w.r.evidence.representativeness
    margins = representativeness.margins if representativeness is not None else []
    paragraphs, fewer = _margins(w, margins)
    if not margins:
        paragraphs.append(str(w.q["representative"]["no_population"]))
    paragraphs.insert(0, str(w.q["representative"]["assignment"][plan.design.assignment]))
    findings = _reference_figures(w)
    if fewer:
        paragraphs.append(
            str(w.q["representative"]["meaning"]).format(
                categories=", ".join(fewer), arm=w.label(arms[-1])
            )
        )
    weighted, not_covered = _population_weighted(w)
    if weighted:
        paragraphs.append(" ".join(x for x in (weighted, not_covered) if x))
    question = str(w.q["representative"]["question"])
    # the first paragraph is about pilot against control: the short answer starts after it
    # (what the weighting leaves out is in the section, not in the one-page summary)
    short = paragraphs[1] if len(paragraphs) > 1 else findings[0]
    if weighted:
        short += " " + weighted
    return Answer("representative", question, short, tuple(paragraphs), tuple(findings))


def _margins(w: _Words, margins: Sequence[MarginComparison]) -> tuple[list[str], list[str]]:
    """Per margin of all vacancies, the category where the pilot arm differs most (or that
    it is alike); and the categories it holds fewer of than all vacancies."""
    arm = w.r.plan.design.arms[-1]
    paragraphs: list[str] = []
    fewer: list[str] = []
    for margin in margins:
        pilot = next((a for a in margin.arms if a.arm == arm), None)
        if not pilot or not pilot.categories:
            continue
        widest = max(pilot.categories, key=lambda c: abs(c.standardised_difference or 0.0))
        if abs(widest.standardised_difference or 0.0) <= STD_DIFF_THRESHOLD:
            paragraphs.append(
                str(w.q["representative"]["alike"]).format(
                    margin=w.label(margin.margin), arm=w.label(arm)
                )
            )
            continue
        category = _category(w, margin.margin, widest.category)
        paragraphs.append(
            str(w.q["representative"]["margin"]).format(
                margin=w.label(margin.margin),
                category=category,
                share=w.pct(widest.share),
                population=w.pct(widest.population_share),
                arm=w.label(arm),
            )
        )
        if (widest.share or 0.0) < (widest.population_share or 0.0):
            fewer.append(category)
    return paragraphs, fewer


def _reference_figures(w: _Words) -> list[str]:
    """The plan's government-wide reference figures, each beside the focal share among the
    applicants of every arm; that the plan gives none when it gives none."""
    arms = w.r.plan.design.arms
    figures = w.r.plan.evaluation.reference_figures
    findings = []
    for f in figures:
        pool = (
            "; ".join(
                str(w.q["representative"]["pool"]).format(
                    arm=w.label(a), share=_focal_share(w, f.group, a)
                )
                for a in arms
            )
            if f.group
            else ""
        )
        findings.append(
            str(w.q["representative"]["figure"]).format(
                what=f.what, share=w.pct(f.share), source=f.source, pool=pool
            )
        )
    if not figures:
        findings.append(str(w.q["representative"]["no_figures"]))
    return findings


def _category(w: _Words, margin: str, value: str) -> str:
    """A category of a margin of all vacancies in words: a department by its name where the
    catalogue knows the abbreviation, a salary band as scales."""
    names = w.q["representative"].get("categories", {}).get(margin, {})
    if isinstance(names, Mapping):
        return str(names.get(value, value))
    return str(names).format(value=value)


def _population_weighted(w: _Words) -> tuple[str, str]:
    """Whether weighting the arms to all vacancies of the period (a robustness specification
    with population weights) changes a verdict; and which disadvantages shown it does not
    cover (empty texts where there is nothing to say)."""
    rows = [x for x in w.r.robustness if isinstance(x.weighting, PopulationWeighting)]
    if not rows:
        return "", ""
    main = {h.id: h.verdict for h in w.r.hypotheses}
    tested = {x.hypothesis for x in rows}
    moved = {x.hypothesis for x in rows if x.verdict != main.get(x.hypothesis)}
    # in the plan's order
    changed = [h.id for h in w.r.hypotheses if h.id in moved]
    q = w.q["representative"]
    weighting = rows[0].weighting
    assert isinstance(weighting, PopulationWeighting)  # as selected above
    words = {
        "spec": rows[0].specification,
        "margins": w.join([w.label(m) for m in weighting.margins]),
        "tested": ", ".join(h.id for h in w.r.hypotheses if h.id in tested),
    }
    text = (
        str(q["weighted_changed"]).format(ids=", ".join(changed), **words)
        if changed
        else str(q["weighted_same"]).format(**words)
    )
    shown = [
        h.id for h in w.r.hypotheses if (h.harm or h.group_disadvantaged) and h.id not in tested
    ]
    not_covered = str(q["weighted_not_covering"]).format(ids=", ".join(shown)) if shown else ""
    return text, not_covered


def _privacy(w: _Words) -> Answer:
    plan = w.r.plan
    ev = plan.evaluation
    paragraphs = (
        str(w.q["privacy"]["cells"]).format(
            min_cell=plan.disclosure.min_cell, hidden=w.count(w.r.suppressed_cells)
        ),
        str(w.q["privacy"]["audit"]),
        str(w.q["privacy"]["basis"]).format(
            basis=w.unstated(ev.legal_basis), dpia=w.unstated(ev.dpia)
        ),
        str(w.q["privacy"]["data"]).format(k=plan.disclosure.k_anonymity),
    )
    return Answer("privacy", str(w.q["privacy"]["question"]), paragraphs[0], paragraphs, ())


def _uncertainty(w: _Words) -> Answer:
    arms = w.r.plan.design.arms
    d = w.r.descriptives.arms
    paragraphs = [
        str(w.q["uncertainty"]["size"]).format(
            arm=w.label(arms[-1]),
            ref_arm=w.label(arms[0]),
            n=w.count(d[arms[-1]].n_vacancies),
            n_ref=w.count(d[arms[0]].n_vacancies),
        )
    ]
    paragraphs.append(
        str(w.q["uncertainty"]["contradictions"]).format(
            n=len(w.r.contradictions), checks=len(w.r.contradiction_checks)
        )
    )
    paragraphs += _voluntary(w) + _amended_after(w)
    inconclusive = [h.id for h in w.r.hypotheses if h.verdict == "inconclusive"]
    if inconclusive:
        paragraphs.append(
            str(w.q["uncertainty"]["inconclusive"]).format(ids=", ".join(inconclusive))
        )
    findings = []
    for h in w.r.hypotheses:
        reasons = w.fragile(h)
        if reasons:
            findings.append(f"{h.id}: " + "; ".join(reasons) + ".")
    fragile = [h.id for h in w.r.hypotheses if w.fragile(h)]
    if not findings:
        findings.append(str(w.q["uncertainty"]["none_fragile"]))
    less_certain = [h.id for h in w.r.hypotheses if not w.firm(h) and w.caveats(h)]
    if less_certain:
        paragraphs.append(
            str(w.q["uncertainty"]["less_certain"]).format(ids=", ".join(less_certain))
        )
    short = str(w.q["uncertainty"]["short"]).format(
        k=len(inconclusive),
        n=len(w.r.hypotheses),
        fragile=", ".join(fragile) if fragile else str(w.q["none"]),
    )
    question = str(w.q["uncertainty"]["question"])
    return Answer("uncertainty", question, short, tuple(paragraphs), tuple(findings))


def _voluntary(w: _Words) -> list[str]:
    """How often the main group's voluntary question was left open, per arm."""
    arms = w.r.plan.design.arms
    hypotheses = w.r.hypotheses
    if not hypotheses:
        return []
    column = w.r.plan.groups[hypotheses[0].group].column
    tables = [w.r.descriptives.arms[a].demographics.get(column) for a in arms]
    shares = [t.not_reported_share if t is not None else None for t in tables]
    if None in shares:
        return []
    return [
        str(w.q["uncertainty"]["voluntary"]).format(
            column=w.label(column),
            share_ref=w.pct(shares[0]),
            share=w.pct(shares[-1]),
            ref_arm=w.label(arms[0]),
            arm=w.label(arms[-1]),
        )
    ]


def _amendments(w: _Words) -> tuple[int, int]:
    """How often the plan was amended, and how often after the outcomes were seen."""
    entries = w.r.plan.lock.entries if w.r.plan.lock is not None else []
    amendments = [e for e in entries if e.kind != "registration"]
    after = sum(e.data_access == "outcome_data_seen" for e in amendments)
    return len(amendments), after


def _amended_after(w: _Words) -> list[str]:
    """That the plan was amended after the outcomes were seen, and how often."""
    after = _amendments(w)[1]
    return [str(w.q["uncertainty"]["amended"]).format(after=after)] if after else []


def criterion_words(
    results: Results,
    h: HypothesisResult,
    messages: Mapping[str, Any],
    formats: Formats,
    reason: Callable[[str | None], str | None],
) -> str:
    """The criterion of hypothesis ``h`` in words (the report's plan chapter uses it too)."""
    return _Words(results, messages, formats, reason).criterion(h)


def answers(
    results: Results,
    messages: Mapping[str, Any],
    formats: Formats,
    reason: Callable[[str | None], str | None],
) -> list[Answer]:
    """The answers to Parliament's questions, in the order the Senate asked them, written
    with ``formats`` and ``reason`` (a reason of results.json in the report's language)."""
    w = _Words(results, messages, formats, reason)
    return [
        _how(w),
        _questionnaire(w),
        _disadvantage(w),
        _interview(w),
        _representative(w),
        _privacy(w),
        _uncertainty(w),
    ]
