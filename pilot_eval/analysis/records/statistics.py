"""Records of the confirmatory analysis: estimates, hypotheses, robustness, contradictions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pilot_eval.analysis.inference import Verdict
from pilot_eval.analysis.records.base import Exact, Persons, Real, Record, Vacancies, Whole
from pilot_eval.privacy.withhold import NotPersons, ShareOf


class EstimateRecord(Record):
    """What one estimator gave: the number, its interval and test, and what it used."""

    estimator: str
    scale: str
    estimate: Real = None
    std_error: Real = None
    ci_low: Real = None
    ci_high: Real = None
    statistic: Real = None
    statistic_name: str | None = None
    df: Real = None
    p_value: Exact = None
    n_vacancies: Vacancies = 0
    n_applications: Persons = 0
    null_hypothesis: str
    reason: str | None = None


class GroupCell(Record):
    """The applications of one group: how many, how many passed, and their rate; or, for
    a score, their mean and standard deviation."""

    n: Persons
    passed: Persons = None
    rate: Annotated[Real, ShareOf("passed", "n")] = None
    mean: Real = None
    sd: Real = None


class CellCount(Record):
    """A cell of a table: the applications, and those counted (who passed)."""

    n: Persons
    count: Persons


class BreslowDay(Record):
    """The Breslow-Day test that the odds ratio is the same in every vacancy."""

    statistic: Real
    df: Whole
    p_value: Real
    null_hypothesis: str


class EstimateDetails(Record):
    """An estimator's own numbers; each estimator gives the fields that belong to it."""

    cells: dict[str, CellCount] | None = None
    focal: GroupCell | None = None
    reference: GroupCell | None = None
    rates: dict[str, Real] | None = None
    four_fifths_flag: bool | None = None
    shortfall: Real = None
    sample_odds_ratio: Real = None
    log_odds_ratio: Real = None
    std_error_scale: str | None = None
    variance: str | None = None
    df_method: str | None = None
    clusters: str | None = None
    fixed_effects: str | None = None
    mean_difference: Real = None
    mean_difference_se: Real = None
    N: Persons = None
    G: Annotated[int | None, NotPersons("vacancies")] = None
    K: Annotated[int | None, NotPersons("coefficients")] = None
    informative_vacancies: Annotated[int | None, NotPersons("vacancies")] = None
    collinear_dropped: list[str] | None = None
    gap_varies_with: list[str] | None = None
    breslow_day: BreslowDay | None = None
    mechanism: str | None = None
    exact: bool | None = None
    seed: Annotated[int | None, NotPersons("a seed")] = None
    assignments_possible: Annotated[int | None, NotPersons("assignments")] = None
    assignments_used: Annotated[int | None, NotPersons("assignments")] = None
    as_extreme: Annotated[int | None, NotPersons("re-drawn assignments")] = None
    """Not a count of persons: the published p-value determines it."""


class NamedEstimate(EstimateRecord):
    """An entry of a hypothesis' ``estimates``: with the alternative and the estimator's own
    numbers (cells, rates, draws...) in ``details``."""

    alternative: str
    details: EstimateDetails


class ArmScoreGap(EstimateRecord):
    """A score gap between the groups within one arm, with the applications of each group."""

    n_focal: Persons = None
    n_reference: Persons = None


class WithheldGap(Record):
    """A gap withheld because a group of the arm is too small to publish its numbers."""

    n_applications: Persons
    reason: str


class Dropped(Record):
    """Applications a specification left out, and why."""

    reason: str
    rows: Persons


class Exclusion(Dropped):
    """Applications a filter removed from a comparison, with the rule and the reason."""

    rule: str


class Stage(Record):
    """The transition a hypothesis analyses: from one stage of selection to the next."""

    from_: str = Field(alias="from")
    to: str


class Criterion(Record):
    """The plan's criterion of a hypothesis, on the deciding estimator's scale."""

    min_effect: Exact
    rule: str
    margin: Exact
    text: str


class CriterionTests(Record):
    """Adjusted p-values of the one-sided tests that decide a verdict (None: not run)."""

    met: Exact = None
    not_met: Exact = None
    harm: Exact = None
    min_effect: Exact = None
    margin: Exact = None


class BoundVerdicts(Record):
    """The verdict at each end of a bound."""

    lower: str
    upper: str


class LeeBounds(Record):
    """Lee's trimming bounds: the estimate if the missing answers were as the reported ones."""

    lower: Real
    upper: Real
    trim: Real
    trimmed_arm: str | None
    verdicts: BoundVerdicts | None = None


class MissingDataBounds(Record):
    """Worst-case (Manski) bounds for the applications without a value of the group."""

    method: str
    complete_case: Real = None
    lower: Real = None
    upper: Real = None
    missing: dict[str, Persons] | None = None
    depends_on_missing: bool | None = None
    tipping_share: Real = None
    verdicts: BoundVerdicts | None = None
    lee: LeeBounds | None = None
    reason: str | None = None


class StratumBounds(Record):
    """Bounds on a later-stage effect among those who would reach the stage either way."""

    lower: Real = None
    upper: Real = None
    depends_on_selection: bool | None = None
    verdicts: BoundVerdicts | None = None
    reason: str | None = None


class LaterStage(Record):
    """A later stage read two ways: from the application, and within the stage reached."""

    from_application: EstimateRecord | None = None
    stratum_bounds: StratumBounds | None = None


class SubgroupEstimate(Record):
    """The effect within one subgroup (a department...)."""

    estimate: Real
    std_error: Real
    p_value: Exact
    n_vacancies: Vacancies
    reason: str | None


class Heterogeneity(Record):
    """A test that the effect is the same in every subgroup."""

    test: str
    statistic: Real
    df: Whole
    p_value: Real
    null_hypothesis: str


class SubgroupAnalysis(Record):
    """The effect per value of a subgroup column, and whether it differs between them."""

    column: str
    subgroups: dict[str, SubgroupEstimate]
    heterogeneity: Heterogeneity | None


class ArmDifference(Record):
    """The difference between the arms of a quantity estimated per arm: a t-test with
    Welch-Satterthwaite degrees of freedom (``df``)."""

    estimate: Real = None
    std_error: Real = None
    ci_low: Real = None
    ci_high: Real = None
    statistic: Real = None
    df: Real = None
    p_value: Real = None
    reason: str | None = None


class ScoreGapByArm(Record):
    """A score gap per arm, and the difference between the arms."""

    per_arm: dict[str, ArmScoreGap | WithheldGap]
    difference_between_arms: ArmDifference | None
    """None when the hypothesis is about the reference arm itself."""


class HypothesisResult(EstimateRecord):
    """One hypothesis of the plan: its estimate (the plan's chosen estimator), the deciding
    test, the adjusted p-value and verdict, and everything a reader needs to weigh them."""

    id: str
    family: str
    kind: str
    group: str
    arm: str
    stage: Stage | None
    score: str | None
    alternative: str
    description: str
    criterion: Criterion
    decided_by: str
    decision: EstimateRecord
    p_adjusted: Exact
    verdict: Verdict
    harm: bool | None
    group_disadvantaged: bool | None
    criterion_tests: CriterionTests
    min_effect_shown: bool | None
    disadvantage_not_ruled_out: Real
    minimum_detectable_effect: Real
    estimates: dict[str, NamedEstimate]
    exclusions: list[Exclusion]
    n_total_applications: Persons
    subgroups: list[SubgroupAnalysis]
    missing_data: MissingDataBounds | None = None
    later_stage: LaterStage | None = None
    by_arm: ScoreGapByArm | None = None


class WeightingArm(Record):
    """How far the weights of one arm reach."""

    vacancies: Vacancies
    design_effect: Real
    max_weight: Real
    population_share_not_covered: dict[str, Real]


class PopulationWeighting(Record):
    """Weights that make each arm's vacancies look like the population of vacancies."""

    margins: list[str]
    applications_off_support: Persons
    arms: dict[str, WeightingArm]


class ResponseWeighting(Record):
    """Weights for the applicants who left a column open: inverse response probabilities."""

    method: str
    columns: list[str]
    largest_weight: Real


class RobustnessResult(EstimateRecord):
    """A hypothesis under one of the plan's robustness specifications."""

    hypothesis: str
    specification: str
    description: str
    p_adjusted: Exact
    verdict: Verdict | None
    exclusions: list[Exclusion | Dropped]
    weighting: PopulationWeighting | ResponseWeighting | None = None


class Contradiction(Record):
    """Two results that point different ways, with the explanation in words.

    ``kind`` says which check found it; the other fields belong to that kind:
    ``estimators`` (pooled_vs_stratified, tests_disagree), ``significant`` and
    ``not_significant`` (tests_disagree), ``column``, ``positive`` and ``negative``
    (subgroups_opposite), ``specification`` (robustness_flip).
    """

    hypothesis: str
    kind: Literal["pooled_vs_stratified", "tests_disagree", "subgroups_opposite", "robustness_flip"]
    detail: str
    estimators: list[str] | None = None
    significant: list[str] | None = None
    not_significant: list[str] | None = None
    column: str | None = None
    positive: list[str] | None = None
    negative: list[str] | None = None
    specification: str | None = None
