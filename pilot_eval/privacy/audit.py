"""An audit of the published counts as an attacker would run it.

After disclosure control, every count that ``results.json`` publishes about a group (origin,
gender, age band, disability) is a linear relation between unknown cells: the
applications of each arm, each value of the group's column and each last stage reached.
The audit writes these relations down and solves them, as tau-ARGUS audits a table
(Hundepool et al. 2012, *Statistical Disclosure Control*, section 4.3): for every count
that was hidden, the smallest and the largest whole number it can be given everything that
was published. A hidden count whose range is narrower than ``disclosure.min_cell`` and
reaches below it is derivable: the group's tables of that arm are then withheld whole, and
where that does not suffice the run refuses to publish (:func:`protect`).

The relations, per group and arm:

* the arm's applications and the applications reaching each stage;
* the applications of each value of the group's column, and the share not reported;
* the funnel: the applications of each side (focal, reference, other) reaching each stage,
  the share of applicants reaching it and the transition rate (a published rate r of a
  count c over a base b is the relation c - r b = 0);
* per hypothesis of the group: the applications used and every row of its exclusion
  ledger, over the arms and stages it analyses.

Not modelled: counts by department (subgroups, the stratified estimates), robustness
specifications (they change the sample), the other evidence (its own tables, each
protected by the minimum cell rule) and the impact ratio (a ratio of rates, not linear).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import Bounds, LinearConstraint, milp

from pilot_eval.data.frame import analysed_arms
from pilot_eval.data.tables import NOT_REPORTED
from pilot_eval.errors import PilotEvalError
from pilot_eval.plan.model import STAGES, AnalysisPlan, Group

RATE_TOLERANCE = 1e-9
"""Published rates carry 12 significant digits: the relation count - rate x base = 0 holds
to this times the base (and a millionth)."""


class DisclosureAuditError(PilotEvalError):
    """A hidden count can be derived from what would be published."""


@dataclass(frozen=True)
class Exposure:
    """A hidden count and the range an attacker can give it."""

    group: str
    arm: str | None
    cell: str
    low: int
    high: int

    def format(self) -> str:
        """``disability, pilot, focal reaching 'invited': derivable within 4``."""
        return f"{self.group}, {self.cell}: derivable within {self.high - self.low}"


@dataclass
class _System:
    """Unknowns x[arm, value, last stage] of one group, and the published relations."""

    arms: tuple[str, ...]
    values: tuple[str, ...]
    rows: list[npt.NDArray[np.float64]]
    targets: list[tuple[str, str | None, npt.NDArray[np.float64]]]

    @property
    def size(self) -> int:
        return len(self.arms) * len(self.values) * len(STAGES)

    def cells(
        self,
        arms: Sequence[str] | None = None,
        values: Sequence[str] | None = None,
        last: Sequence[int] | None = None,
    ) -> npt.NDArray[np.float64]:
        """The sum of the cells of ``arms``, ``values`` and last stages ``last`` (all when
        None)."""
        shape = (len(self.arms), len(self.values), len(STAGES))
        row = np.zeros(shape)
        a = [self.arms.index(x) for x in (arms if arms is not None else self.arms)]
        v = [self.values.index(x) for x in (values if values is not None else self.values)]
        s = list(last) if last is not None else list(range(len(STAGES)))
        row[np.ix_(a, v, s)] = 1.0
        return row.ravel()

    def publish(
        self, label: str, row: npt.NDArray[np.float64], value: Any, arm: str | None = None
    ) -> None:
        """A published count (a relation), or a hidden one (a target of the audit; ``arm``
        is the arm of a descriptive table, whose cells can be withheld together)."""
        if value is None:
            self.targets.append((label, arm, row))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self.rows.append(np.append(row, float(value)))

    def zeros(self) -> npt.NDArray[np.bool_]:
        """Cells that a published zero sum forces to zero (nobody of an arm reached a
        stage): a hidden count of them discloses nothing the zero did not."""
        forced = np.zeros(self.size, dtype=bool)
        for row in self.rows:
            a, b = row[:-1], row[-1]
            if b == 0 and (a >= 0).all():
                forced |= a > 0
        return forced

    def rate(
        self, count: npt.NDArray[np.float64], base: npt.NDArray[np.float64], rate: Any
    ) -> None:
        """A published rate: count - rate * base = 0."""
        if isinstance(rate, int | float) and not isinstance(rate, bool):
            self.rows.append(np.append(count - float(rate) * base, 0.0))


def _reached(stage: int) -> list[int]:
    return list(range(stage, len(STAGES)))


def _values_of(results: Mapping[str, Any], column: str, arms: Sequence[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for arm in arms:
        demographics = results["descriptives"]["arms"][arm]["demographics"]
        seen.update(dict.fromkeys(demographics.get(column, {}).get("counts", {})))
    seen.setdefault(NOT_REPORTED, None)
    return tuple(seen)


def _side_values(group: Group, values: Sequence[str]) -> dict[str, list[str]]:
    focal = {str(v) for v in group.focal}
    reference = {str(v) for v in group.reference}
    return {
        "focal": [v for v in values if v in focal],
        "reference": [v for v in values if v in reference],
        "other": [v for v in values if v not in focal | reference],
    }


def _descriptive_relations(
    system: _System, results: Mapping[str, Any], name: str, group: Group
) -> None:
    sides = _side_values(group, system.values)
    funnel = results["descriptives"]["funnel"].get(name, {}).get("arms", {})
    for arm in system.arms:
        described = results["descriptives"]["arms"][arm]
        total = system.cells([arm])
        system.publish(f"{arm}, applications", total, described["n_applications"], arm)
        for i, stage in enumerate(STAGES):
            system.publish(
                f"{arm}, reaching '{stage}'",
                system.cells([arm], last=_reached(i)),
                described["reached"].get(stage),
                arm,
            )
        demographics = described["demographics"].get(group.column, {})
        for value, count in demographics.get("counts", {}).items():
            cell = system.cells([arm], [value])
            system.publish(f"{arm}, {group.column} {value}", cell, count, arm)
        not_reported = system.cells([arm], [NOT_REPORTED])
        system.rate(not_reported, total, demographics.get("not_reported_share"))
        for side, shown in funnel.get(arm, {}).get("sides", {}).items():
            values = sides[side]
            reach = [system.cells([arm], values, _reached(i)) for i in range(len(STAGES))]
            for i, stage in enumerate(STAGES):
                label = f"{arm}, {side} reaching '{stage}'"
                system.publish(label, reach[i], shown["reached"][stage], arm)
                system.rate(reach[i], reach[0], shown["share_of_applicants"].get(stage))
                if i:
                    system.rate(reach[i], reach[i - 1], shown["transition_rate"].get(stage))


def _hypothesis_relations(
    system: _System, plan: AnalysisPlan, row: Mapping[str, Any], group: Group
) -> None:
    h = next(x for x in plan.hypotheses if x.id == row["id"])
    arms = [a for a in analysed_arms(plan, h) if a in system.arms]
    others = [a for a in system.arms if a not in arms]
    start = STAGES.index(h.stage.from_) if h.stage is not None else 0
    sides = _side_values(group, system.values)
    compared = sides["focal"] + sides["reference"]
    known = [v for v in system.values if v != NOT_REPORTED]
    neither = [v for v in known if v not in compared]
    used = known if h.kind == "pool_share" else compared
    ledger = {
        "other_arm": system.cells(others),
        "not_reached": system.cells(arms, last=range(start)),
        "not_reported": system.cells(arms, [NOT_REPORTED], _reached(start)),
        "not_compared": system.cells(arms, neither, _reached(start)),
    }
    rules = {e.get("rule") for e in row["exclusions"]}
    for e in row["exclusions"]:
        if e.get("rule") in ledger:
            system.publish(f"{h.id}, left out ({e['rule']})", ledger[e["rule"]], e["rows"])
    system.publish(f"{h.id}, all applications", system.cells(), row.get("n_total_applications"))
    if "score_missing" not in rules and "vacancy_excluded" not in rules:
        # without missing scores, the applications used are those of the compared values
        n = system.cells(arms, used, _reached(start))
        system.publish(f"{h.id}, applications used", n, row["n_applications"])


def _range(system: _System, target: npt.NDArray[np.float64]) -> tuple[int, int] | None:
    """The smallest and largest whole value of ``target`` under the relations (None when the
    solver fails, which an audit treats as no finding: the relations are those of real
    data and always have a solution)."""
    relations = np.array(system.rows) if system.rows else np.zeros((0, system.size + 1))
    a, b = relations[:, :-1], relations[:, -1]
    integral = np.all(np.isclose(a, np.round(a)), axis=1)
    constraints = []
    if integral.any():
        constraints.append(LinearConstraint(a[integral], b[integral], b[integral]))
    if (~integral).any():
        # rates: the count equals rate x base up to the rate's 12 digits
        slack = RATE_TOLERANCE * np.abs(a[~integral]).sum(axis=1) + 1e-6
        constraints.append(
            LinearConstraint(a[~integral], b[~integral] - slack, b[~integral] + slack)
        )
    ends = []
    for sign in (1.0, -1.0):
        found = milp(
            sign * target,
            constraints=constraints,
            integrality=np.ones(system.size),
            bounds=Bounds(0, np.inf),
        )
        if found.status != 0:
            return None
        ends.append(round(sign * found.fun))
    return ends[0], ends[1]


def audit(results: Mapping[str, Any], plan: AnalysisPlan) -> list[Exposure]:
    """Every hidden count of the modelled relations that an attacker can place in a range
    narrower than ``disclosure.min_cell`` that reaches below it: such a count is known to be
    small. (A hidden count pinned at a large value discloses no small cell: it was hidden as
    the complement of one, and that one keeps its own range.)"""
    min_cell = plan.disclosure.min_cell
    arms = tuple(results["descriptives"]["arms"])
    found: list[Exposure] = []
    for name, group in plan.groups.items():
        values = _values_of(results, group.column, arms)
        system = _System(arms, values, [], [])
        _descriptive_relations(system, results, name, group)
        for row in results["hypotheses"]:
            if row["group"] == name:
                _hypothesis_relations(system, plan, row, group)
        zeros = system.zeros()
        for label, arm, target in system.targets:
            if not (target.astype(bool) & ~zeros).any():
                continue  # zero by a published zero: nobody of the arm reached the stage
            span = _range(system, target)
            if span is not None and span[0] < min_cell and span[1] - span[0] < min_cell:
                found.append(Exposure(name, arm, label, *span))
    return found


def protect(results: MutableMapping[str, Any], plan: AnalysisPlan) -> int:
    """Audit, and withhold whole tables until nothing hidden is derivable.

    Where a hidden count of a group's descriptive tables in one arm can be derived, every
    count and rate of that group's column in that arm is withheld (the column's
    demographics and the funnel of each group on the column), and the audit runs again;
    where that is not enough, the column's tables of every arm. Returns the counts and
    rates so withheld.

    Raises
    ------
    DisclosureAuditError
        When a derivable count remains that withholding descriptive tables cannot protect,
        naming each one (never its value); nothing is then written.
    """
    arms = tuple(results["descriptives"]["arms"])
    withheld = 0
    done: dict[str, set[str]] = {}
    while found := audit(results, plan):
        blocks = {(plan.groups[e.group].column, e.arm) for e in found if e.arm is not None}
        added = False
        for column, arm in sorted(blocks):
            # first the arm's tables; when that is not enough, those of every arm (a ledger
            # sums the arms: the other arms' counts would give this one away)
            shown = done.setdefault(column, set())
            new = ({arm} if arm not in shown else set(arms)) - shown
            for a in sorted(new):
                withheld += _withhold(results, plan, column, a)
            shown |= new
            added = added or bool(new)
        if not added or any(e.arm is None for e in found):
            _refuse(found, plan)
    return withheld


def _refuse(found: Sequence[Exposure], plan: AnalysisPlan) -> None:
    lines = "\n".join(f"  - {e.format()}" for e in found)
    raise DisclosureAuditError(
        "Nothing was written: a count hidden by disclosure control can be derived from the "
        "published ones (range narrower than disclosure.min_cell = "
        f"{plan.disclosure.min_cell}):\n{lines}\n"
        "Raise disclosure.min_cell in the plan or merge the values of the group."
    )


def _withhold(results: MutableMapping[str, Any], plan: AnalysisPlan, column: str, arm: str) -> int:
    """Withhold every count and rate of ``column`` in ``arm``; return how many were shown."""
    described = results["descriptives"]
    tables: list[MutableMapping[str, Any]] = []
    demographics = described["arms"][arm]["demographics"].get(column)
    if demographics is not None:
        tables.append(demographics)
    for name, group in plan.groups.items():
        funnel = described["funnel"].get(name, {}).get("arms", {}).get(arm)
        if group.column == column and funnel is not None:
            tables.append(funnel)
    return sum(_clear(t) for t in tables)


def _clear(node: MutableMapping[str, Any]) -> int:
    """Set every number under ``node`` to None; return how many were numbers."""
    cleared = 0
    for key, value in node.items():
        if isinstance(value, MutableMapping):
            cleared += _clear(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            node[key] = None
            cleared += 1
    return cleared
