"""Records of the other evidence: interview quality, survey, open answers, training,
representativeness. Each section is present when the plan declares it and the bundle
has its table; ``skipped`` says why one is not."""

from __future__ import annotations

from typing import Annotated

from pilot_eval.analysis.records.base import Persons, Real, Record, Vacancies, Whole
from pilot_eval.analysis.records.statistics import ArmDifference, ArmScoreGap, WithheldGap
from pilot_eval.privacy.withhold import ShareOf


class Reliability(Record):
    """Agreement between the assessors of one arm: an intraclass correlation."""

    raters: Whole | None = None
    n: Persons = None
    n_left_out: Persons = None
    form: str | None = None
    value: Real = None
    F: Real = None
    df1: Real = None
    df2: Real = None
    p_value: Real = None
    ci_low: Real = None
    ci_high: Real = None
    confidence: Real = None
    reason: str | None = None


class Consistency(Record):
    """Internal consistency (Cronbach's alpha) of one instrument's criteria in one arm."""

    instrument: str
    arm: str
    n_left_out: Persons = None
    n_items: Whole | None = None
    n: Persons = None
    value: Real = None
    ci_low: Real = None
    ci_high: Real = None
    confidence: Real = None
    reason: str | None = None


class RatingGap(Record):
    """The interview-rating gap of one group, per arm and between the arms.

    An arm whose gap rests on too few applications keeps only ``n_applications`` and the
    ``reason``, and the difference between the arms only its ``reason``."""

    group: str
    per_arm: dict[str, ArmScoreGap | WithheldGap]
    difference_between_arms: ArmDifference | None


class InterviewQuality(Record):
    """Whether the interview was applied as intended and assessors agreed."""

    form: str
    reliability: dict[str, Reliability]
    consistency: list[Consistency]
    gaps: list[RatingGap] | None = None


class Likert(Record):
    """The answer scale of the survey's items."""

    min: Whole
    max: Whole


class Response(Record):
    """Who answered the survey: per arm, or per value of a column within an arm."""

    arm: str
    by: str
    value: str
    n: Persons
    responded: Persons
    response_rate: Annotated[Real, ShareOf("responded", "n")]


class RakingMargin(Record):
    """A margin the survey weights are raked to."""

    variables: list[str]
    categories: Whole | None = None


class SurveyWeighting(Record):
    """Survey weights raked to those invited, or why they could not be made."""

    margins: list[RakingMargin]
    reason: str | None = None
    method: str | None = None
    iterations: Whole | None = None
    respondents: Persons = None
    population: Persons = None
    sum_of_weights: Annotated[Real, ShareOf("respondents", "population")] = None
    """Equals ``population``: hidden with it."""
    min_weight: Real = None
    max_weight: Real = None
    trim_upper: Real = None
    trimmed: Persons = None
    design_effect: Real = None
    effective_respondents: Annotated[Real, ShareOf("respondents", "population")] = None
    """``respondents`` over the design effect: hidden with the counts."""


class MeanDifference(Record):
    """A difference in mean scale score between arms, clustered by vacancy."""

    estimate: Real = None
    std_error: Real = None
    ci_low: Real = None
    ci_high: Real = None
    statistic: Real = None
    df: Whole | None = None
    p_value: Real = None
    mean_arm: Real = None
    mean_reference: Real = None
    reason: str | None = None


class SurveyComparison(Record):
    """One scale compared between an arm and the reference arm, for all respondents or
    one side of a group, unweighted and weighted."""

    scale: str
    arm: str
    group: str
    side: str
    n: Persons
    n_arm: Persons
    n_reference: Persons
    unweighted: MeanDifference
    weighted: MeanDifference


class Agreement(Record):
    """Agreement between the coders of one theme (Cohen's or Fleiss' kappa)."""

    method: str | None = None
    value: Real = None
    std_error: Real = None
    ci_low: Real = None
    ci_high: Real = None
    observed_agreement: Real = None
    reason: str | None = None


class ThemeFrequency(Record):
    """How many answers of one arm and side of a group carry a theme."""

    arm: str
    group: str
    side: str
    n: Persons
    count: Persons
    share: Annotated[Real, ShareOf("count", "n")]


class Theme(Record):
    """A theme of the codebook, its agreement and its frequencies."""

    code: str
    label: str
    definition: str
    agreement: Agreement
    frequencies: list[ThemeFrequency]


class AnswersInArm(Record):
    """The coded open answers of one arm."""

    arm: str
    answers: Persons


class OpenAnswers(Record):
    """Open answers coded by theme; their text is never published."""

    coders: Whole
    resolution: str
    procedure: str
    answers: Persons
    answers_by_arm: list[AnswersInArm]
    themes: list[Theme]


class OpenAnswersNotCoded(Record):
    """Why the open answers could not be coded."""

    reason: str


class Survey(Record):
    """The applicants' survey: response, weights, and scale scores compared."""

    invited: Persons
    n_applications: Persons
    responded: Persons
    scales: dict[str, list[str]]
    likert: Likert
    response: list[Response]
    weighting: SurveyWeighting
    comparisons: list[SurveyComparison]
    open_answers: OpenAnswers | OpenAnswersNotCoded | None = None


class TrainingRow(Record):
    """Committee members required and trained, for one department (or all) in one year."""

    department: str
    year: Whole
    members_required: Persons
    members_trained: Persons
    compliance: Annotated[Real, ShareOf("members_trained", "members_required")]


class NotReported(Record):
    """A department and year the training table has no row for."""

    department: str
    year: Whole


class CommitteeTraining(Record):
    """Whether the selection committees were trained."""

    years: list[Whole]
    departments: list[str]
    by_department: list[TrainingRow]
    overall: list[TrainingRow]
    missing: list[NotReported]
    rows_before: Whole


class CategoryShare(Record):
    """One category of a margin: the arm's vacancies and share against the population's."""

    category: str
    vacancies: Vacancies
    share: Real
    population_share: Real
    standardised_difference: Real


class GoodnessOfFit(Record):
    """Pearson's chi-square of an arm's vacancies against the population shares."""

    statistic: Real = None
    df: Whole | None = None
    p_value: Real = None
    p_value_monte_carlo: Real = None
    draws: Whole | None = None
    min_expected: Real = None
    reason: str | None = None


class MarginInArm(Record):
    """One arm's vacancies over the categories of one margin."""

    arm: str
    vacancies: Vacancies
    categories: list[CategoryShare]
    max_abs_standardised_difference: Real
    test: GoodnessOfFit


class MarginComparison(Record):
    """One margin of the population (department, function family, salary band)."""

    margin: str
    population: Real
    arms: list[MarginInArm]


class Representativeness(Record):
    """Whether the pilot's vacancies resemble the population of vacancies."""

    margins: list[MarginComparison]
    draws: Whole


class SkippedSection(Record):
    """A section of other evidence the plan declares but the bundle cannot give."""

    section: str
    table: str
    reason: str


class Evidence(Record):
    """The other evidence besides the hypotheses."""

    skipped: list[SkippedSection]
    suppressed_cells: Whole
    interview_quality: InterviewQuality | None = None
    survey: Survey | None = None
    committee_training: CommitteeTraining | None = None
    representativeness: Representativeness | None = None
