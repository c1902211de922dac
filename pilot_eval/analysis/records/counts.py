"""Records of the descriptive counts: applicants per arm, group and stage reached.

These tables are protected where they are made (:mod:`pilot_eval.analysis.descriptives`,
with complementary suppression); a hidden count is None.
"""

from __future__ import annotations

from pilot_eval.analysis.records.base import Persons, Real, Record, Vacancies, Whole


class Demographic(Record):
    """The applications of one arm by the values of one column (``not_reported`` last)."""

    counts: dict[str, Persons]
    not_reported_share: Real


class ArmCounts(Record):
    """One arm: its vacancies, applications, the applications reaching each stage, and
    the applications by each column describing applicants."""

    n_vacancies: Vacancies
    n_applications: Persons
    reached: dict[str, Persons]
    demographics: dict[str, Demographic]


class FunnelSide(Record):
    """One side of a group (focal, reference, other) in one arm, stage by stage."""

    reached: dict[str, Persons]
    share_of_applicants: dict[str, Real]
    transition_rate: dict[str, Real]


class FunnelArm(Record):
    """A group's funnel in one arm, with the impact ratio of each transition."""

    sides: dict[str, FunnelSide]
    impact_ratio: dict[str, Real]


class Funnel(Record):
    """Who reaches each stage, by group: the group's column, its sides and each arm."""

    column: str
    focal: list[str]
    reference: list[str]
    arms: dict[str, FunnelArm]


class Period(Record):
    """The dates the vacancies were opened on: the first and the last."""

    first: str
    last: str


class Descriptives(Record):
    """Counts per arm and group, protected by complementary suppression."""

    min_cell: Whole
    period: Period | None
    arms: dict[str, ArmCounts]
    funnel: dict[str, Funnel]
    suppressed_cells: Whole
