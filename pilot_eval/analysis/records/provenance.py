"""Records of where results come from: the plan as registered, its lock, the data read."""

from __future__ import annotations

from pilot_eval.analysis.records.base import Persons, Record, Vacancies, Whole
from pilot_eval.analysis.records.statistics import Exclusion


class Design(Record):
    """How vacancies were assigned to the arms."""

    unit: str
    assignment: str
    block: str | None
    arms: list[str]


class Family(Record):
    """A family of hypotheses and its multiple-testing correction."""

    correction: str


class GroupDefinition(Record):
    """A group: the column of applications and its focal and reference values."""

    column: str
    focal: list[str]
    reference: list[str]


class DisclosureRules(Record):
    """The plan's rules of publication."""

    min_cell: Whole
    k_anonymity: Whole
    quasi_identifiers: list[str]


class ReferenceFigure(Record):
    """A Rijk-wide figure to set the results beside, with its source."""

    what: str
    group: str | None
    share: float
    source: str


class EvaluationSetting(Record):
    """Who evaluates for whom, on what basis; None where the plan does not say."""

    evaluator: str | None
    commissioner: str | None
    independence: str | None
    success: str | None
    legal_basis: str | None
    dpia: str | None
    reference_figures: list[ReferenceFigure]


class Deviation(Record):
    """A change to the plan after registration, with what the authors had seen then."""

    date: str
    what: str
    why: str
    data_access: str


class LockEntry(Record):
    """One entry of the lock file's hash chain: a registration or an amendment."""

    sequence: Whole
    kind: str
    sha256: str
    date: str
    data_access: str
    n_deviations: Whole
    deviations_sha256: str
    previous_entry_sha256: str | None


class Lock(Record):
    """The lock file the plan was checked against."""

    file: str
    sha256: str
    entries: list[LockEntry]


class PlanSummary(Record):
    """The plan the run followed, as registered and amended."""

    id: str
    title: str
    version: str
    file: str
    sha256: str
    locked: bool
    exploratory: bool
    registered_on: str
    data_access_at_registration: str
    description: str | None
    design: Design
    alpha: float
    families: dict[str, Family]
    groups: dict[str, GroupDefinition]
    disclosure: DisclosureRules
    evaluation: EvaluationSetting
    deviations: list[Deviation]
    lock: Lock | None


class ExcludedRows(Exclusion):
    """Applications one hypothesis did not use, by table and rule."""

    table: str
    hypothesis: str


class DataSummary(Record):
    """The files read (name to SHA-256) and what was used of them."""

    files: dict[str, str]
    n_vacancies: Vacancies
    n_applications: Persons
    excluded: list[ExcludedRows]
