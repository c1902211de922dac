"""The pre-registered analysis plan: models, loading, canonical form and hash.

A plan is YAML (contract section 2). It is parsed into frozen pydantic models that forbid
unknown keys, so a mistyped key is an error and never silently ignored. Loading reports
every problem at once: YAML syntax errors with line and column, unknown or invalid keys by
their path (``hypotheses[2].alternativ``) and line, and references to groups, arms, stages,
families or columns that the plan does not declare.

The canonical form is the plan's JSON with sorted keys and without default values; its
SHA-256 is the plan's identity, independent of key order, comments and whitespace.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import itertools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
)

from pilot_eval.errors import PlanError, Problem, problems_message

Assignment = Literal["randomised", "block_randomised", "matched", "self_selected"]
DataAccess = Literal["no_data", "no_outcome_data", "outcome_data_seen"]
Correction = Literal["holm", "fdr_bh", "bonferroni", "none"]
Kind = Literal["pool_share", "stage_gap", "gap_difference", "impact_ratio", "score_gap"]
Alternative = Literal["two-sided", "greater", "less"]
Stage = Literal["applied", "invited", "interviewed", "offered", "hired"]
EstimatorName = Literal[
    "difference_pooled",
    "lpm_fe",
    "mantel_haenszel",
    "logit",
    "impact_ratio",
    "fisher_exact",
    "z_test",
    "hedges_g",
    "randomisation",
    "lpm_cr2",
    "difference_pooled_cr2",
    "impact_ratio_cr2",
    "hedges_g_cr2",
]

ESTIMATOR_SCALES: Mapping[str, str] = {
    "difference_pooled": "difference",
    "lpm_fe": "difference",
    "mantel_haenszel": "odds_ratio",
    "logit": "odds_ratio",
    "impact_ratio": "ratio",
    "fisher_exact": "ratio",
    "z_test": "ratio",
    "hedges_g": "smd",
    "randomisation": "difference",
    "lpm_cr2": "difference",
    "difference_pooled_cr2": "difference",
    "impact_ratio_cr2": "ratio",
    "hedges_g_cr2": "smd",
}
"""The scale of each estimator's estimate."""

NO_EFFECT: Mapping[str, float] = {"difference": 0.0, "odds_ratio": 1.0, "ratio": 1.0, "smd": 0.0}
"""The value of an estimate when there is no effect, by scale."""

STAGES: tuple[Stage, ...] = get_args(Stage)
"""The ordered stages of a selection procedure, earliest first."""

ESTIMATORS_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "pool_share": ("lpm_fe", "difference_pooled", "logit", "randomisation", "lpm_cr2"),
    "stage_gap": (
        "lpm_fe",
        "difference_pooled",
        "mantel_haenszel",
        "logit",
        "lpm_cr2",
        "difference_pooled_cr2",
    ),
    "gap_difference": ("lpm_fe", "difference_pooled", "logit", "randomisation", "lpm_cr2"),
    "impact_ratio": ("impact_ratio", "fisher_exact", "z_test", "impact_ratio_cr2"),
    "score_gap": ("hedges_g", "hedges_g_cr2"),
}
"""Estimators that apply to each hypothesis kind; the first is the default."""

CLUSTER_AWARE: tuple[str, ...] = (
    "lpm_cr2",
    "difference_pooled_cr2",
    "impact_ratio_cr2",
    "hedges_g_cr2",
    "randomisation",
)
"""Tests whose error rate respects applicants clustered in vacancies (and vacancies in
blocks): CR2 with Bell-McCaffrey degrees of freedom, or randomisation inference that
re-draws the assignment within blocks. Only these may decide a verdict."""

DECIDING_DEFAULT: Mapping[str, str] = {
    "lpm_fe": "lpm_cr2",
    "mantel_haenszel": "lpm_cr2",
    "logit": "lpm_cr2",
    "difference_pooled": "difference_pooled_cr2",
    "impact_ratio": "impact_ratio_cr2",
    "fisher_exact": "impact_ratio_cr2",
    "z_test": "impact_ratio_cr2",
    "hedges_g": "hedges_g_cr2",
}
"""The cluster-aware test that decides when the plan's estimator is not one: the same
estimand with CR2 inference where there is one (pooled difference, impact ratio, Hedges'
g), otherwise the within-vacancy linear model (Mantel-Haenszel, logit)."""

RANDOMISED: tuple[Assignment, ...] = ("randomised", "block_randomised")

BETWEEN_ARMS: tuple[Kind, ...] = ("pool_share", "gap_difference")
"""Kinds that compare an arm with the reference arm; the others look within one arm."""

# Columns of `applications` whose vocabularies the contract fixes; a group on one of them
# may only name these values.
KNOWN_GROUP_VALUES: Mapping[str, tuple[str, ...]] = {
    "origin": ("netherlands", "europe", "outside_europe"),
    "gender": ("female", "male", "other"),
    "age_band": ("<30", "30-44", "45-54", "55+"),
    "disability": ("true", "false"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Design(_Frozen):
    """How vacancies were assigned to arms."""

    unit: Literal["vacancy"] = Field(
        "vacancy", description="The unit of assignment; always the vacancy procedure."
    )
    assignment: Assignment = Field(
        description="How vacancies came to be in an arm: randomised, block_randomised, "
        "matched or self_selected."
    )
    block: str | None = Field(
        None,
        description="Column of `vacancies` holding the randomisation block or matched pair.",
    )
    arms: tuple[str, ...] = Field(
        min_length=2,
        description="Values of `vacancies.arm`; the first is the reference arm.",
    )


def _boolean_as_text(value: Any) -> Any:
    # YAML reads `true` as a boolean; the data's boolean columns are compared as text.
    return str(value).lower() if isinstance(value, bool) else value


GroupValue = Annotated[
    str,
    BeforeValidator(_boolean_as_text),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "boolean"}]}),
]
"""A value of a group column; YAML booleans (disability: true) are read as text."""


class Group(_Frozen):
    """A comparison of a focal group with a reference group on one applications column."""

    column: str = Field(description="Column of `applications` that defines the group.")
    focal: tuple[GroupValue, ...] = Field(
        min_length=1, description="Values forming the focal group."
    )
    reference: tuple[GroupValue, ...] = Field(
        min_length=1, description="Values forming the reference group."
    )


class Family(_Frozen):
    """A family of hypotheses whose p-values are adjusted together."""

    correction: Correction = Field(description="Multiple-testing correction within the family.")


class StageTransition(_Frozen):
    """A transition between two stages: among applications that reached `from`, who reached `to`."""

    from_: Stage = Field(alias="from", description="The earlier stage (the denominator).")
    to: Stage = Field(description="The later stage (the numerator).")


CriterionRule = Literal["estimate", "bound"]


class Criterion(_Frozen):
    """The pre-registered success criterion of a hypothesis."""

    min_effect: float | None = Field(
        None,
        description="Met if the estimate passes this value in the stated direction and "
        "p_adjusted < alpha (rule 'estimate'), or if the data show the effect beyond it "
        "(rule 'bound'). On the deciding test's scale (a difference; a ratio for impact "
        "ratios; Hedges' g for scores). Default: the value of no effect (0 for differences, "
        "1 for ratios).",
    )
    rule: CriterionRule = Field(
        "estimate",
        description="'estimate': met when the estimate passes min_effect and p_adjusted < "
        "alpha; not met when the interval lies beyond min_effect on the other side or the "
        "estimate goes the wrong way. 'bound': min_effect is tested: met when the test of "
        "'effect no larger than min_effect', adjusted within the family, rejects at alpha "
        "(the adjusted confidence bound lies beyond min_effect); not met when the reverse "
        "test, adjusted alike, rejects (the effect is shown smaller than min_effect).",
    )
    margin: float | None = Field(
        None,
        gt=0,
        description="A disadvantage (one-sided hypotheses) or any effect (two-sided) smaller "
        "than this counts as none: when the criterion is not met, the verdict is "
        "'non_inferior' (one-sided: the effect is shown not to go the harmful way by more "
        "than margin) or 'equivalent' (two-sided: shown within +-margin of no effect, two "
        "one-sided tests), each adjusted within the family. A distance from no effect on the "
        "deciding test's scale (for ratios below 1).",
    )


class Hypothesis(_Frozen):
    """One pre-registered comparison."""

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", description="Unique identifier.")
    family: str = Field(description="Name of a family in `families`.")
    kind: Kind = Field(description="What is compared (contract section 2).")
    group: str = Field(description="Name of a group in `groups`.")
    arm: str | None = Field(
        None,
        description="The arm compared with the reference arm (pool_share, gap_difference), "
        "or the arm analysed (stage_gap, impact_ratio, score_gap; default: the reference arm).",
    )
    stage: StageTransition | None = Field(
        None, description="Stage transition; required for stage_gap, gap_difference, impact_ratio."
    )
    score: str | None = Field(None, description="Score column of `applications` for score_gap.")
    alternative: Alternative = Field("two-sided", description="Direction of the alternative.")
    adjust_for: tuple[str, ...] = Field(
        (), description="Vacancy columns adjusted for (fixed effects or covariates)."
    )
    estimator: EstimatorName | None = Field(
        None, description="Estimator reported at the top level; default depends on the kind."
    )
    decided_by: EstimatorName | None = Field(
        None,
        description="The cluster-aware test whose adjusted p-value and interval decide the "
        "verdict (lpm_cr2, difference_pooled_cr2, impact_ratio_cr2, hedges_g_cr2 or "
        "randomisation). Default: the estimator itself when it is cluster-aware, otherwise "
        "its cluster-aware counterpart (lpm_fe, mantel_haenszel and logit: lpm_cr2; "
        "difference_pooled: difference_pooled_cr2, or lpm_cr2 between arms; impact_ratio, "
        "fisher_exact and z_test: impact_ratio_cr2; hedges_g: hedges_g_cr2).",
    )
    criterion: Criterion = Field(Criterion(), description="Success criterion.")
    description: str | None = Field(None, description="The hypothesis in words.")

    @property
    def chosen_estimator(self) -> str:
        """The plan's estimator, or the documented default of the kind."""
        return self.estimator or ESTIMATORS_BY_KIND[self.kind][0]

    @property
    def deciding_test(self) -> str:
        """The test that decides the verdict: the plan's ``decided_by`` or the default."""
        return self.decided_by or deciding_default(self.kind, self.chosen_estimator)


def _check_deciding_test(
    plan: AnalysisPlan, h: Hypothesis, at: str, add: Callable[..., None]
) -> None:
    """``decided_by`` names a cluster-aware test of the kind; min_effect is on its scale."""
    if not _decided_by_applies(plan, h, at, add):
        return
    if h.estimator is not None and h.estimator not in ESTIMATORS_BY_KIND[h.kind]:
        return  # reported above
    deciding, chosen = h.deciding_test, h.chosen_estimator
    no_effect = NO_EFFECT[ESTIMATOR_SCALES[deciding]]
    m = h.criterion.min_effect
    same_scale = ESTIMATOR_SCALES[deciding] == ESTIMATOR_SCALES[chosen]
    wrong_side = (h.alternative == "greater" and m is not None and m < no_effect) or (
        h.alternative == "less" and m is not None and m > no_effect
    )
    if same_scale and wrong_side:
        add(
            f"{at}.criterion.min_effect",
            f"lies on the other side of no effect ({no_effect:g}) than the alternative "
            f"'{h.alternative}': a criterion met by an effect the wrong way; to accept a small "
            "loss, declare it as a margin",
            m,
        )
    tested = h.criterion.rule == "bound" and m not in (None, no_effect)
    if deciding == "randomisation" and (tested or h.criterion.margin is not None):
        add(
            f"{at}.criterion",
            "randomisation inference tests no effect only: a margin or a min_effect tested "
            "by its bound needs a test with an interval in decided_by",
        )
    if (
        h.criterion.margin is not None
        and ESTIMATOR_SCALES[deciding] in ("ratio", "odds_ratio")
        and h.criterion.margin >= 1
    ):
        add(
            f"{at}.criterion.margin",
            "a margin around a ratio of 1 lies below 1",
            h.criterion.margin,
        )
    if (
        h.criterion.min_effect is not None
        and ESTIMATOR_SCALES[deciding] != ESTIMATOR_SCALES[chosen]
    ):
        add(
            f"{at}.criterion.min_effect",
            f"is on the scale of {chosen} ({ESTIMATOR_SCALES[chosen]}), but {deciding}, which "
            f"decides, reports a {ESTIMATOR_SCALES[deciding]}: name a test on the same scale "
            "in decided_by, or the estimator that decides in estimator",
            h.criterion.min_effect,
        )


def _decided_by_applies(
    plan: AnalysisPlan, h: Hypothesis, at: str, add: Callable[..., None]
) -> bool:
    """Whether ``decided_by`` (when given) is a cluster-aware test of the kind; a
    randomisation test also needs a randomised design (reported, not a reason to stop)."""
    test = h.decided_by
    if test is None:
        return True
    allowed = [t for t in ESTIMATORS_BY_KIND[h.kind] if t in CLUSTER_AWARE]
    if test not in allowed:
        add(
            f"{at}.decided_by",
            f"not a cluster-aware test of {h.kind} (allowed: {', '.join(allowed)})",
            test,
        )
        return False
    if test == "randomisation" and plan.design.assignment not in RANDOMISED:
        add(
            f"{at}.decided_by",
            f"randomisation inference needs a randomised design, not '{plan.design.assignment}'",
            test,
        )
    return True


def deciding_default(kind: str, estimator: str) -> str:
    """The cluster-aware test that decides for ``estimator`` on ``kind`` by default."""
    if estimator in CLUSTER_AWARE:
        return estimator
    default = DECIDING_DEFAULT[estimator]
    return default if default in ESTIMATORS_BY_KIND[kind] else "lpm_cr2"


class RandomisationInference(_Frozen):
    """Settings of randomisation inference."""

    draws: int = Field(10_000, ge=100, le=10_000_000, description="Number of re-randomisations.")
    seed: int = Field(ge=0, description="Seed of numpy.random.SeedSequence.")


class ReferenceFigure(_Frozen):
    """A figure from outside the evaluation to compare the applicant pool with."""

    what: str = Field(description="What the figure is, in the report's language.")
    group: str | None = Field(
        None,
        description="A group of `groups`: the figure is a share of its focal value, shown next "
        "to that share among the applicants of each arm.",
    )
    share: float = Field(ge=0, le=1, description="The figure, as a share between 0 and 1.")
    source: str = Field(description="Where the figure comes from (publication, table, year).")


class Evaluation(_Frozen):
    """Who evaluates for whom, and on what basis: what Parliament asked besides the numbers.
    Every key is optional; the report says 'not stated in the plan' for one left out."""

    evaluator: str | None = Field(None, description="Who carries out the evaluation.")
    commissioner: str | None = Field(None, description="Who commissioned the evaluation.")
    independence: str | None = Field(
        None, description="How the evaluator's independence is safeguarded."
    )
    success: str | None = Field(
        None, description="When the pilot as a whole counts as a success, in words."
    )
    legal_basis: str | None = Field(
        None, description="The legal basis for processing the applicants' data (GDPR article)."
    )
    dpia: str | None = Field(
        None, description="The data protection impact assessment: its reference and date."
    )
    reference_figures: tuple[ReferenceFigure, ...] = Field(
        (), description="Figures across central government to compare the pool with."
    )


class Disclosure(_Frozen):
    """Disclosure control of published tables and microdata."""

    min_cell: int = Field(10, ge=1, description="Smallest count that may be published.")
    k_anonymity: int = Field(5, ge=2, description="Minimum size of a quasi-identifier class.")
    quasi_identifiers: tuple[str, ...] = Field(
        (),
        description="Columns of `vacancies` or `applications` that the open-data export treats "
        "as quasi-identifiers besides department, function_family, salary_scale, managerial, "
        "age_band, gender, origin and disability.",
    )


SCORE_LIMIT = 1_000_000.0
"""A score beyond +/- this is refused when the plan declares no range for its column: no
selection instrument scores like that; such a number is an export error (1e308 would turn
every statistic on the scores into nonsense)."""


class ScoreRange(_Frozen):
    """The range a score column can take (inclusive)."""

    low: float = Field(description="Lowest possible score.")
    high: float = Field(description="Highest possible score.")


class RobustnessSpec(_Frozen):
    """A declared robustness specification: the same hypotheses analysed another way.

    Each key that is set changes one thing; the results are secondary and a change of sign
    or verdict is reported as a contradiction (``robustness_flip``).
    """

    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", description="Unique identifier.")
    description: str | None = Field(None, description="The specification in words.")
    hypotheses: tuple[str, ...] = Field(
        (),
        description="Hypothesis ids it applies to; default the hypotheses of the plan's "
        "first family (its primary family).",
    )
    estimator: EstimatorName | None = Field(
        None, description="Another estimator (e.g. logit instead of lpm_fe)."
    )
    adjust_for: tuple[str, ...] | None = Field(
        None, description="Another list of adjustment columns ([] for none)."
    )
    exclude: dict[str, tuple[str, ...]] = Field(
        {}, description="Vacancy column -> values whose vacancies are left out."
    )
    missing_group: Literal["focal", "reference"] | None = Field(
        None,
        description="Count applications whose group value is not reported as focal or as "
        "reference, in every arm, instead of leaving them out: one way to fill in the "
        "missing values, not a bound (results give worst-case bounds per hypothesis, "
        "missing_data).",
    )
    reweight: tuple[str, ...] | None = Field(
        None,
        description="Vacancy columns of the profile to which reference-arm vacancies are "
        "reweighted (salary_scale in bands); for self-selected or matched designs.",
    )
    response_weights: tuple[str, ...] | None = Field(
        None,
        description="Weight those who answered the group's question by the inverse of their "
        "probability of answering, modelled per arm from these columns (other group columns "
        "of `applications`, or `vacancies` columns; a missing value is a category of its "
        "own) by logistic regression with every column interacted with the arm. Assumes "
        "that, given these columns and the arm, who answers is unrelated to the answer.",
    )
    population_weights: bool = Field(
        False,
        description="Weight each arm's vacancies to the population of all vacancies "
        "(table `population`): raked to the margins of `representativeness`.",
    )


class DiagnosisGap(_Frozen):
    """A true gap in one stage transition, by arm, for a design diagnosis."""

    group: str = Field(description="Name of a group in `groups`.")
    stage: StageTransition = Field(description="One transition between adjacent stages.")
    by_arm: dict[str, float] = Field(
        description="Arm -> focal minus reference transition probability in that arm "
        "(arms left out: 0)."
    )


class DiagnosisScoreGap(_Frozen):
    """A true standardised score difference, by arm, for a design diagnosis."""

    group: str = Field(description="Name of a group in `groups`.")
    score: str = Field(description="Score column of a score_gap hypothesis.")
    by_arm: dict[str, float] = Field(
        description="Arm -> focal minus reference mean, in standard deviations (arms left out: 0)."
    )


Icc = Annotated[float, Field(ge=0, lt=1)]
"""An intraclass correlation: the share of an outcome's variance between vacancies."""
VacancySd = Annotated[float, Field(ge=0, le=1)]


class Heterogeneity(_Frozen):
    """How much vacancies differ, for a design diagnosis. Every value left out is estimated
    from the data bundle the design is taken from (its reference arm), or 0 when the bundle
    cannot tell."""

    membership: dict[str, Icc] = Field(
        {},
        description="Group column -> intraclass correlation of group membership among "
        "applicants of one vacancy (each value's share varies by vacancy, Dirichlet).",
    )
    stages: dict[str, Icc] = Field(
        {},
        description="Transition 'from->to' (adjacent stages, e.g. 'applied->invited') -> "
        "intraclass correlation of passing it (each vacancy's probability is Beta-distributed "
        "around the reference arm's rate). Takes precedence over vacancy_sd.",
    )
    scores: dict[str, Icc] = Field(
        {}, description="Score column -> intraclass correlation of the score."
    )
    gap_sd: dict[str, dict[str, VacancySd]] = Field(
        {},
        description="Group -> transition 'from->to' -> standard deviation across vacancies of "
        "the gap in that transition (focal minus reference probability), in every arm and "
        "also under no effect.",
    )
    score_gap_sd: dict[str, dict[str, VacancySd]] = Field(
        {},
        description="Group -> score column -> standard deviation across vacancies of the "
        "standardised score difference.",
    )


class Diagnosis(_Frozen):
    """The true effects under which `pilot-eval diagnose` simulates the design."""

    seed: int = Field(ge=0, description="Seed of numpy.random.SeedSequence; one child per run.")
    sims: int = Field(500, ge=1, le=100_000, description="Simulations per scenario.")
    vacancy_sd: float = Field(
        0.4,
        ge=0,
        le=3,
        description="Standard deviation of the vacancies' transition probabilities on the "
        "logit scale (random intercepts).",
    )
    pool_share: dict[str, dict[str, float]] = Field(
        {},
        description="Group -> arm -> change of the focal share among applicants compared "
        "with the reference arm.",
    )
    gaps: tuple[DiagnosisGap, ...] = Field((), description="True gaps in stage transitions.")
    score_gaps: tuple[DiagnosisScoreGap, ...] = Field(
        (), description="True standardised score differences."
    )
    stage_correlation: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Correlation across an applicant's transitions of what makes them pass "
        "(a shared latent ability, Gaussian copula): above 0, whoever passes an earlier stage "
        "despite a penalty is stronger at the next one, so a comparison among those who "
        "reached a later stage is selected by the earlier one.",
    )
    heterogeneity: Heterogeneity = Field(
        Heterogeneity(),
        description="Intraclass correlations and vacancy-level SDs of the gaps; what is left "
        "out is estimated from the data bundle.",
    )


IccForm = Literal["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
"""Intraclass correlation forms in Shrout & Fleiss (1979) notation; 'k' is the reliability
of the mean of k raters, ICC2 is McGraw & Wong's absolute agreement ICC(A,.), ICC3 their
consistency ICC(C,.)."""

Resolution = Literal["all", "majority", "any"]
SALARY_BAND = "salary_band"
"""The name of the salary-scale band as a representativeness margin."""
RakeVariable = str


class InterviewQuality(_Frozen):
    """Reliability and gaps of the interview ratings (optional table `interview_ratings`)."""

    icc: IccForm = Field(
        "ICC1k",
        description="ICC form of the inter-rater reliability per arm. Raters who differ from "
        "vacancy to vacancy call for the one-way forms (ICC1, ICC1k); the two-way forms "
        "treat a rater's seat in the panel (first, second, ... by rater_id) as the rater.",
    )
    groups: tuple[str, ...] = Field(
        (),
        description="Groups whose gap in the mean interview rating (Hedges' g) is shown per arm.",
    )


class Likert(_Frozen):
    """The range of the survey's Likert items."""

    min: int = Field(1, description="Lowest answer.")
    max: int = Field(5, description="Highest answer.")


class Trim(_Frozen):
    """Trimming of non-response weights."""

    max_ratio: float = Field(
        gt=1,
        description="Weights above max_ratio times the mean weight are set to that bound and "
        "the excess is shared equally by the other respondents, repeated until no weight "
        "exceeds it (survey::trimWeights, strict = TRUE).",
    )


class Theme(_Frozen):
    """One theme of the codebook of open answers."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Code the coders write.")
    label: str = Field(min_length=1, description="Short name of the theme.")
    definition: str = Field(min_length=1, description="What the theme covers, as coders apply it.")


class OpenAnswers(_Frozen):
    """Codes given to the open answers by independent coders (never the answers' text)."""

    coders: tuple[str, ...] = Field(
        min_length=2,
        description="Columns of `survey`, one per coder, each holding the theme codes that "
        "coder gave an answer, separated by ';' (empty: no theme; the column 'answered' "
        "tells whether there was an answer).",
    )
    codebook: tuple[Theme, ...] = Field(min_length=1, description="The themes with definitions.")
    resolution: Resolution = Field(
        "majority",
        description="When a theme counts for an answer: all coders gave it, a majority did "
        "(more than half), or any coder did.",
    )
    procedure: str | None = Field(
        None, description="How coders were trained and worked, in words, for the report."
    )
    groups: tuple[str, ...] = Field((), description="Groups whose theme frequencies are shown.")


class SurveyPlan(_Frozen):
    """The applicant survey (optional table `survey`)."""

    scales: dict[str, tuple[str, ...]] = Field(
        min_length=1,
        description="Scale name -> Likert item columns of `survey`; a scale is the mean of "
        "its items (all items answered).",
    )
    likert: Likert = Likert()
    compare: tuple[str, ...] = Field(
        (), description="Scales compared between arms, weighted, by group (default all)."
    )
    groups: tuple[str, ...] = Field(
        (), description="Groups within which the arms are compared (and response rates shown)."
    )
    rake_to: tuple[tuple[RakeVariable, ...], ...] = Field(
        (("arm", "stage_reached"),),
        description="Margins of all applications to which respondents are raked, each a "
        "list of variables crossed: 'arm', 'stage_reached' or a group name (its column's "
        "values, missing as its own category).",
    )
    trim: Trim | None = Field(None, description="Trimming of the raked weights.")
    open_answers: OpenAnswers | None = Field(None, description="Coded open answers.")

    def compared(self) -> tuple[str, ...]:
        """The scales compared between arms."""
        return self.compare or tuple(self.scales)


class CommitteeTraining(_Frozen):
    """Monitoring of the mandatory bias workshop (optional table `committee_training`)."""

    years: int = Field(5, ge=1, le=30, description="How many of the latest years are shown.")


class Representativeness(_Frozen):
    """Pilot and control vacancies compared with all vacancies (optional table `population`)."""

    margins: tuple[Literal["department", "function_family", "salary_band"], ...] = Field(
        ("department", "function_family", "salary_band"),
        min_length=1,
        description="Margins compared; salary_band groups salary scales in bands "
        "(1-8, 9-10, 11-12, 13-18).",
    )
    draws: int = Field(
        10_000, ge=100, le=1_000_000, description="Monte Carlo draws of each test's p-value."
    )
    seed: int = Field(20240901, ge=0, description="Seed of the Monte Carlo draws.")


class Deviation(_Frozen):
    """An amendment of the plan after registration."""

    date: dt.date = Field(description="When the plan was changed (ISO 8601).")
    what: str = Field(min_length=1, description="What changed.")
    why: str = Field(min_length=1, description="Why it changed.")
    data_access: DataAccess = Field(description="What data the authors had seen at that moment.")


class AnalysisPlan(_Frozen):
    """A complete, pre-registered analysis plan (plan format 1)."""

    plan_format: Literal[1] = Field(description="Version of the plan format.")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="Identifier of the plan.")
    title: str = Field(min_length=1, description="Title of the evaluation.")
    version: str = Field(min_length=1, description="Version of the plan, as text (quote it).")
    registered_on: dt.date = Field(description="Date of registration (ISO 8601).")
    data_access_at_registration: DataAccess = Field(
        description="What data the authors had seen when registering."
    )
    description: str | None = Field(None, description="Free description of the evaluation.")
    design: Design
    groups: dict[str, Group] = Field(min_length=1)
    alpha: float = Field(0.05, gt=0, le=0.5, description="Significance level.")
    families: dict[str, Family] = Field(min_length=1)
    hypotheses: tuple[Hypothesis, ...] = Field(min_length=1)
    randomisation_inference: RandomisationInference | None = None
    disclosure: Disclosure = Disclosure()
    evaluation: Evaluation = Field(
        default_factory=Evaluation,
        description="Who evaluates for whom, independence, data protection and reference figures.",
    )
    subgroups: tuple[str, ...] = Field(
        ("department",),
        description="Vacancy columns whose subgroups are checked for opposite effects.",
    )
    robustness: tuple[RobustnessSpec, ...] = Field(
        (), description="Robustness specifications, run as secondary results."
    )
    diagnosis: Diagnosis | None = Field(
        None, description="True effects for a design diagnosis by simulation (optional)."
    )
    interview_quality: InterviewQuality | None = Field(
        None, description="Reliability and gaps of interview ratings (table interview_ratings)."
    )
    survey: SurveyPlan | None = Field(None, description="The applicant survey (table survey).")
    committee_training: CommitteeTraining | None = Field(
        None, description="Monitoring of the bias workshop (table committee_training)."
    )
    representativeness: Representativeness | None = Field(
        None, description="Comparison with all vacancies of the period (table population)."
    )
    score_ranges: dict[str, ScoreRange] = Field(
        default_factory=dict,
        description="Range of each score column (`questionnaire_score`, `interview_score`, "
        "a score a hypothesis names, and `score` of interview_ratings); a value outside it is "
        "an input error. Without a range, a score must lie within +/- 1,000,000.",
    )
    deviations: tuple[Deviation, ...] = ()

    @property
    def primary_family(self) -> str:
        """The first family of the plan: its primary hypotheses."""
        return next(iter(self.families))

    def robustness_targets(self, spec: RobustnessSpec) -> tuple[Hypothesis, ...]:
        """The hypotheses a robustness specification applies to."""
        if spec.hypotheses:
            by_id = {h.id: h for h in self.hypotheses}
            return tuple(by_id[i] for i in spec.hypotheses if i in by_id)
        primary = (h for h in self.hypotheses if h.family == self.primary_family)
        if spec.reweight is not None:  # reweighting is about comparisons between arms
            return tuple(h for h in primary if h.kind in BETWEEN_ARMS)
        return tuple(primary)

    def score_range(self, column: str) -> tuple[float, float]:
        """The declared range of a score column, or +/- ``SCORE_LIMIT``."""
        declared = self.score_ranges.get(column)
        if declared is None:
            return -SCORE_LIMIT, SCORE_LIMIT
        return declared.low, declared.high

    def score_columns(self) -> tuple[str, ...]:
        """Score columns the plan's score_gap hypotheses compare, sorted."""
        return tuple(sorted({h.score for h in self.hypotheses if h.score}))

    @property
    def reference_arm(self) -> str:
        """The first arm of the design."""
        return self.design.arms[0]

    def arm_of(self, h: Hypothesis) -> str:
        """The arm a hypothesis is about: its ``arm``, or the default of its kind (the
        second arm for comparisons between arms, the reference arm otherwise)."""
        if h.arm is not None:
            return h.arm
        return self.design.arms[1] if h.kind in BETWEEN_ARMS else self.reference_arm

    def vacancy_columns(self) -> tuple[str, ...]:
        """Extra vacancy columns the plan names (block, adjust_for, subgroups, exclusions)."""
        names = {c for h in self.hypotheses for c in h.adjust_for}
        names.update(self.subgroups)
        for spec in self.robustness:
            names.update(spec.adjust_for or ())
            names.update(spec.exclude)
            names.update(spec.reweight or ())
            names.update(c for c in spec.response_weights or () if c not in self.group_columns())
        if self.design.block:
            names.add(self.design.block)
        return tuple(sorted(names))

    def group_columns(self) -> tuple[str, ...]:
        """Application columns that define the plan's groups, sorted."""
        return tuple(sorted({g.column for g in self.groups.values()}))

    def application_columns(self) -> tuple[str, ...]:
        """Application columns the plan names (group columns and scores), sorted."""
        names = {g.column for g in self.groups.values()}
        names.update(h.score for h in self.hypotheses if h.score)
        return tuple(sorted(names))

    def survey_columns(self) -> tuple[str, ...]:
        """Item and coder columns of `survey` the plan names, sorted."""
        if self.survey is None:
            return ()
        names = {item for items in self.survey.scales.values() for item in items}
        if self.survey.open_answers is not None:
            # 'answered' tells an answer without any theme from no answer at all
            names.update((*self.survey.open_answers.coders, "answered"))
        return tuple(sorted(names))


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan together with where it came from and its identity."""

    plan: AnalysisPlan
    path: Path
    canonical: str
    sha256: str


# --------------------------------------------------------------------------------------
# canonical form and hash


def canonical_json(plan: AnalysisPlan) -> str:
    """Return the canonical form: sorted-key compact JSON of the plan without defaults.

    Leaving defaults out keeps the hash of an existing plan stable when a later version of
    pilot-eval adds an optional key, and makes writing a default explicitly the same plan.
    """
    data = plan.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    # a key written with the value it has when left out is the same plan
    for h, entry in zip(plan.hypotheses, data["hypotheses"], strict=True):
        if entry.get("estimator") == ESTIMATORS_BY_KIND[h.kind][0]:
            del entry["estimator"]
        if entry.get("decided_by") == deciding_default(h.kind, h.chosen_estimator):
            del entry["decided_by"]
        if "arm" in entry and entry["arm"] == plan.arm_of(h.model_copy(update={"arm": None})):
            del entry["arm"]
        no_effect = NO_EFFECT[ESTIMATOR_SCALES[h.deciding_test]]
        if entry.get("criterion", {}).get("min_effect") == no_effect:
            del entry["criterion"]["min_effect"]
            if not entry["criterion"]:
                del entry["criterion"]
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def plan_sha256(plan: AnalysisPlan) -> str:
    """SHA-256 (hex) of the plan's canonical form."""
    return hashlib.sha256(canonical_json(plan).encode("utf-8")).hexdigest()


def deviations_sha256(deviations: tuple[Deviation, ...]) -> str:
    """SHA-256 (hex) of a list of deviations in canonical form."""
    data = [d.model_dump(mode="json") for d in deviations]
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------
# loading


def load_plan(path: Path) -> LoadedPlan:
    """Read, parse and check a plan file.

    Raises
    ------
    PlanError
        With every problem found: syntax, unknown or invalid keys, dangling references.
    """
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PlanError(f"Cannot read the plan {path}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlanError(
            f"The plan {name} is not UTF-8 text (byte {exc.start}); save it as UTF-8."
        ) from None
    data, lines = _parse_yaml(text, name)
    if not isinstance(data, dict):
        problem = Problem(
            name, "the plan must be a YAML mapping of keys to values", row=1, line_word="line"
        )
        raise PlanError(problems_message(f"the plan {name}", [problem]), [problem])
    try:
        plan = AnalysisPlan.model_validate(data)
    except ValidationError as exc:
        problems = [_pydantic_problem(err, name, lines) for err in exc.errors()]
        raise PlanError(problems_message(f"the plan {name}", problems), problems) from None
    problems = check_references(plan, name, lines)
    if problems:
        raise PlanError(problems_message(f"the plan {name}", problems), problems)
    return LoadedPlan(
        plan=plan, path=path, canonical=canonical_json(plan), sha256=plan_sha256(plan)
    )


def _parse_yaml(text: str, name: str) -> tuple[Any, dict[str, int]]:
    """Parse YAML safely; return the data and a map of key path -> line number."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        rule = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
        if mark:
            rule += f" (line {mark.line + 1}, column {mark.column + 1})"
        if exc.context and exc.context_mark and exc.problem_mark:
            start = exc.context_mark
            rule += f", {exc.context} started at line {start.line + 1}, column {start.column + 1}"
        problem = Problem(name, rule, row=line, line_word="line")
        raise PlanError(f"The plan {name} is not valid YAML:", [problem]) from None
    except yaml.YAMLError as exc:
        raise PlanError(f"The plan {name} is not valid YAML: {exc}") from None
    if node is None:
        raise PlanError(f"The plan {name} is empty.")
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    _walk(node, "", lines, problems, name)
    if problems:
        raise PlanError(problems_message(f"the plan {name}", problems), problems)
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError) as exc:  # constructor errors the walk did not foresee
        raise PlanError(f"The plan {name} is not valid YAML: {exc}") from None
    return data, lines


def _walk(
    node: yaml.Node, path: str, lines: dict[str, int], problems: list[Problem], name: str
) -> None:
    """Record the line of every key path; collect duplicate keys, aliases and bad dates."""
    seen_nodes: set[int] = set()

    def problem(line: int, where: str, rule: str, value: str | None = None) -> None:
        problems.append(
            Problem(
                name,
                rule,
                row=line,
                column=where or None,
                value=value,
                line_word="line",
                column_word="key",
            )
        )

    def visit(node: yaml.Node, path: str) -> None:
        line = node.start_mark.line + 1
        if id(node) in seen_nodes:
            # an alias: the plan must spell every value out, and a self-reference never ends
            problem(line, path, "YAML anchors and aliases (&name, *name) are not allowed in a plan")
            return
        seen_nodes.add(id(node))
        lines.setdefault(path, line)
        if (
            isinstance(node, yaml.ScalarNode)
            and node.tag == "tag:yaml.org,2002:bool"
            and str(node.value).lower() not in ("true", "false")
        ):
            # YAML 1.1 reads yes/no/on/off as booleans; a plan says what it means
            problem(
                line,
                path,
                f"write true or false, or quote the text ('{node.value}'): YAML would read "
                "it as a boolean",
                str(node.value),
            )
        elif isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.SafeLoader("").construct_yaml_timestamp(node)
            except ValueError:
                problem(line, path, "not a valid date (YYYY-MM-DD)", str(node.value))
        elif isinstance(node, yaml.MappingNode):
            keys: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                child = f"{path}.{key}" if path else key
                key_line = key_node.start_mark.line + 1
                if key in keys:
                    problem(key_line, child, "key appears twice in the same mapping")
                keys.add(key)
                lines[child] = key_line
                visit(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                visit(item, f"{path}[{i}]")

    visit(node, path)


def format_path(loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into ``hypotheses[2].alternativ``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _line_of(path: str, lines: Mapping[str, int]) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    return lines.get("")


_MODEL_AT: dict[str, type[BaseModel]] = {
    "": AnalysisPlan,
    "design": Design,
    "groups.*": Group,
    "families.*": Family,
    "hypotheses[]": Hypothesis,
    "hypotheses[].stage": StageTransition,
    "hypotheses[].criterion": Criterion,
    "randomisation_inference": RandomisationInference,
    "disclosure": Disclosure,
    "deviations[]": Deviation,
}


def _pydantic_problem(err: Mapping[str, Any], name: str, lines: Mapping[str, int]) -> Problem:
    loc: tuple[int | str, ...] = tuple(err["loc"])
    path = format_path(loc)
    kind = err["type"]
    value: str | None = None
    if kind == "extra_forbidden":
        rule = "unknown key"
        parent = _generic_parent(loc[:-1])
        model = _MODEL_AT.get(parent)
        if model is not None:
            known = [f.alias or n for n, f in model.model_fields.items()]
            close = difflib.get_close_matches(str(loc[-1]), known, n=1)
            rule += (
                f" (did you mean '{close[0]}'?)" if close else f"; known keys: {', '.join(known)}"
            )
    elif kind == "missing":
        rule = "required key is missing"
    else:
        rule = str(err["msg"])
        given = err.get("input")
        if isinstance(given, str | int | float | bool | dt.date):
            value = str(given)
    return Problem(
        name,
        rule,
        row=_line_of(path, lines),
        column=path or None,
        value=value,
        line_word="line",
        column_word="key",
    )


def _generic_parent(loc: tuple[int | str, ...]) -> str:
    """Map a concrete location to the key of `_MODEL_AT` (``hypotheses[]``, ``groups.*``)."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += "[]"
        elif i > 0 and loc[i - 1] in ("groups", "families"):
            out += ".*"
        else:
            out += f".{part}" if out else str(part)
    return out


def _check_diagnosis(plan: AnalysisPlan, d: Diagnosis, add: Any) -> None:
    """References of the diagnosis section: groups, arms, adjacent stages, scores."""
    arms = set(plan.design.arms)
    for g, by_arm in d.pool_share.items():
        if g not in plan.groups:
            add(f"diagnosis.pool_share.{g}", "no such group", g)
        for arm in by_arm:
            if arm not in arms:
                add(f"diagnosis.pool_share.{g}.{arm}", "no such arm", arm)
    entries: list[tuple[str, DiagnosisGap | DiagnosisScoreGap]] = [
        *((f"diagnosis.gaps[{i}]", e) for i, e in enumerate(d.gaps)),
        *((f"diagnosis.score_gaps[{i}]", e) for i, e in enumerate(d.score_gaps)),
    ]
    for at, entry in entries:
        if entry.group not in plan.groups:
            add(f"{at}.group", "no such group", entry.group)
        for arm in entry.by_arm:
            if arm not in arms:
                add(f"{at}.by_arm.{arm}", "no such arm", arm)
        if isinstance(entry, DiagnosisGap):
            if STAGES.index(entry.stage.to) != STAGES.index(entry.stage.from_) + 1:
                add(f"{at}.stage", "a diagnosis gap is one transition between adjacent stages")
            for arm, gap in entry.by_arm.items():
                if not -0.9 <= gap <= 0.9:
                    add(f"{at}.by_arm.{arm}", "a gap in probabilities lies in [-0.9, 0.9]")
        elif entry.score not in plan.score_columns():
            add(f"{at}.score", "no score_gap hypothesis compares this score", entry.score)
    _check_heterogeneity(plan, d.heterogeneity, add)


def transition_name(stage: StageTransition) -> str:
    """The name of a transition in a diagnosis: 'from->to'."""
    return f"{stage.from_}->{stage.to}"


TRANSITION_NAMES = tuple(f"{a}->{b}" for a, b in itertools.pairwise(STAGES))


def _check_heterogeneity(plan: AnalysisPlan, h: Heterogeneity, add: Any) -> None:
    """Keys of diagnosis.heterogeneity: group columns, transitions, scores, groups."""
    at = "diagnosis.heterogeneity"
    columns = {g.column for g in plan.groups.values()}
    for column in h.membership:
        if column not in columns:
            add(f"{at}.membership.{column}", "no group of the plan uses this column", column)
    for name in h.stages:
        if name not in TRANSITION_NAMES:
            add(f"{at}.stages.{name}", f"a transition is one of {', '.join(TRANSITION_NAMES)}")
    for score in h.scores:
        if score not in plan.score_columns():
            add(f"{at}.scores.{score}", "no score_gap hypothesis compares this score", score)
    for key, known, what in (
        ("gap_sd", TRANSITION_NAMES, "a transition"),
        ("score_gap_sd", plan.score_columns(), "a compared score"),
    ):
        for group, inner in getattr(h, key).items():
            if group not in plan.groups:
                add(f"{at}.{key}.{group}", "no such group", group)
            for name in inner:
                if name not in known:
                    add(f"{at}.{key}.{group}.{name}", f"not {what}", name)


def _check_evidence(plan: AnalysisPlan, add: Any) -> None:
    """References of the sections on the evaluation's other evidence."""

    def groups(at: str, names: tuple[str, ...]) -> None:
        for i, g in enumerate(names):
            if g not in plan.groups:
                add(f"{at}[{i}]", f"no such group (declared: {', '.join(plan.groups)})", g)

    if plan.interview_quality is not None:
        groups("interview_quality.groups", plan.interview_quality.groups)
    s = plan.survey
    if s is None:
        return
    if s.likert.min >= s.likert.max:
        add("survey.likert", "min must be below max", f"{s.likert.min}..{s.likert.max}")
    seen: dict[str, str] = {}
    for scale, items in s.scales.items():
        if not items:
            add(f"survey.scales.{scale}", "a scale needs at least one item")
        for item in items:
            if item in seen:
                add(f"survey.scales.{scale}", f"item also in scale '{seen[item]}'", item)
            seen[item] = scale
    for i, name in enumerate(s.compare):
        if name not in s.scales:
            add(f"survey.compare[{i}]", f"no such scale (declared: {', '.join(s.scales)})", name)
    groups("survey.groups", s.groups)
    allowed = ("arm", "stage_reached", *plan.groups)
    for i, margin in enumerate(s.rake_to):
        if not margin or len(set(margin)) != len(margin):
            add(f"survey.rake_to[{i}]", "a margin names one or more different variables")
        for j, v in enumerate(margin):
            if v not in allowed:
                add(f"survey.rake_to[{i}][{j}]", f"not one of {', '.join(allowed)}", v)
    o = s.open_answers
    if o is not None:
        if len(set(o.coders)) != len(o.coders):
            add("survey.open_answers.coders", "coders must be different columns")
        for i, c in enumerate(o.coders):
            if c in seen or c in ("application_id", "responded", "answered"):
                add(f"survey.open_answers.coders[{i}]", "column already used otherwise", c)
        codes = [t.code for t in o.codebook]
        for i, c in enumerate(codes):
            if codes.index(c) != i:
                add(f"survey.open_answers.codebook[{i}].code", "code used twice", c)
        groups("survey.open_answers.groups", o.groups)


SCORE_RANGE_COLUMNS = ("questionnaire_score", "interview_score", "score")
"""The score columns of the data contract; a hypothesis may name others."""


def _check_score_ranges(plan: AnalysisPlan, add: Any) -> None:
    known = set(SCORE_RANGE_COLUMNS) | set(plan.score_columns())
    for column, declared in plan.score_ranges.items():
        path = f"score_ranges.{column}"
        if column not in known:
            add(path, "names no score column (" + ", ".join(sorted(known)) + ")", column)
        finite = math.isfinite(declared.low) and math.isfinite(declared.high)
        if not (finite and declared.low < declared.high):
            add(path, "low must be a finite number below high")


def check_references(
    plan: AnalysisPlan, name: str = "plan", lines: Mapping[str, int] | None = None
) -> list[Problem]:
    """Check every name the plan refers to, and the rules between keys.

    Returns a list of problems (empty when the plan is consistent).
    """
    lines = lines or {}
    problems: list[Problem] = []

    def add(path: str, rule: str, value: str | None = None) -> None:
        problems.append(
            Problem(
                name,
                rule,
                row=_line_of(path, lines),
                column=path,
                value=value,
                line_word="line",
                column_word="key",
            )
        )

    _check_design(plan, add)
    _check_groups(plan, add)
    seen_ids: set[str] = set()
    for i, h in enumerate(plan.hypotheses):
        at = f"hypotheses[{i}]"
        if h.id in seen_ids:
            add(f"{at}.id", "hypothesis id used twice", h.id)
        seen_ids.add(h.id)
        _check_hypothesis(plan, h, at, add)
    ids = {h.id: h for h in plan.hypotheses}
    spec_ids: set[str] = set()
    for i, spec in enumerate(plan.robustness):
        at = f"robustness[{i}]"
        if spec.id in spec_ids or spec.id in ids:
            add(
                f"{at}.id",
                "id used twice (robustness ids differ from each other and from hypothesis ids)",
                spec.id,
            )
        spec_ids.add(spec.id)
        _check_robustness_spec(plan, spec, at, ids, add)
    if plan.diagnosis is not None:
        _check_diagnosis(plan, plan.diagnosis, add)
    _check_evidence(plan, add)
    for i, d in enumerate(plan.deviations):
        if d.date < plan.registered_on:
            add(f"deviations[{i}].date", "a deviation cannot predate registration", str(d.date))
    return problems


def _check_design(plan: AnalysisPlan, add: Callable[..., None]) -> None:
    """Arms, score ranges, reference figures, and what the assignment needs."""
    arms = plan.design.arms
    if len(set(arms)) != len(arms):
        add("design.arms", "arms must be different from each other")
    _check_score_ranges(plan, add)
    for i, figure in enumerate(plan.evaluation.reference_figures):
        if figure.group is not None and figure.group not in plan.groups:
            add(
                f"evaluation.reference_figures[{i}].group",
                "names no group of 'groups'",
                figure.group,
            )
    if plan.design.assignment == "block_randomised" and not plan.design.block:
        add("design.block", "a block_randomised design must name its block column")
    if plan.design.assignment in RANDOMISED and plan.randomisation_inference is None:
        add(
            "randomisation_inference",
            "a randomised design needs randomisation_inference with a seed",
        )


def _check_groups(plan: AnalysisPlan, add: Callable[..., None]) -> None:
    """Focal and reference values: apart from each other, and values of their column."""
    for gname, group in plan.groups.items():
        overlap = set(group.focal) & set(group.reference)
        if overlap:
            add(
                f"groups.{gname}",
                "focal and reference groups overlap",
                ", ".join(sorted(overlap)),
            )
        known = KNOWN_GROUP_VALUES.get(group.column)
        if known is not None:
            for side in ("focal", "reference"):
                for i, v in enumerate(getattr(group, side)):
                    if v not in known:
                        add(
                            f"groups.{gname}.{side}[{i}]",
                            f"not a value of '{group.column}' (allowed: {', '.join(known)})",
                            v,
                        )


def _check_hypothesis(plan: AnalysisPlan, h: Hypothesis, at: str, add: Callable[..., None]) -> None:
    """What one hypothesis names (family, group, arm, stage, score, estimator, deciding test)
    and the rules between its keys."""
    arms = plan.design.arms
    if h.family not in plan.families:
        add(
            f"{at}.family",
            f"no such family (declared: {', '.join(plan.families)})",
            h.family,
        )
    if h.group not in plan.groups:
        add(f"{at}.group", f"no such group (declared: {', '.join(plan.groups)})", h.group)
    if h.arm is not None and h.arm not in arms:
        add(f"{at}.arm", f"no such arm (declared: {', '.join(arms)})", h.arm)
    if h.kind in BETWEEN_ARMS and h.arm == plan.reference_arm:
        add(f"{at}.arm", f"{h.kind} compares an arm with the reference arm '{h.arm}'", h.arm)
    if h.kind in ("stage_gap", "gap_difference", "impact_ratio"):
        if h.stage is None:
            add(f"{at}.stage", f"{h.kind} needs a stage: {{from: ..., to: ...}}")
        elif STAGES.index(h.stage.to) <= STAGES.index(h.stage.from_):
            add(
                f"{at}.stage",
                f"stage 'to' must come after 'from' ({' < '.join(STAGES)})",
                f"{h.stage.from_} -> {h.stage.to}",
            )
    elif h.stage is not None:
        add(f"{at}.stage", f"{h.kind} takes no stage")
    if h.adjust_for and h.kind != "pool_share":
        add(
            f"{at}.adjust_for",
            f"{h.kind} compares groups within vacancies: vacancy fixed effects already "
            "absorb every vacancy column, so adjust_for applies to pool_share only",
        )
    if h.kind == "score_gap" and not h.score:
        add(f"{at}.score", "score_gap needs the score column to compare")
    if h.kind != "score_gap" and h.score:
        add(f"{at}.score", f"{h.kind} takes no score column")
    if h.estimator is not None:
        allowed = ESTIMATORS_BY_KIND[h.kind]
        if h.estimator not in allowed:
            add(
                f"{at}.estimator",
                f"does not apply to {h.kind} (allowed: {', '.join(allowed)})",
                h.estimator,
            )
        elif h.estimator == "randomisation" and plan.design.assignment not in RANDOMISED:
            add(
                f"{at}.estimator",
                f"randomisation inference needs a randomised design, not "
                f"'{plan.design.assignment}'",
                h.estimator,
            )
    _check_deciding_test(plan, h, at, add)


def _check_robustness_spec(
    plan: AnalysisPlan,
    spec: RobustnessSpec,
    at: str,
    ids: Mapping[str, Hypothesis],
    add: Callable[..., None],
) -> None:
    """What one robustness specification names, and that it changes something allowed."""
    for j, ref in enumerate(spec.hypotheses):
        if ref not in ids:
            add(f"{at}.hypotheses[{j}]", "no such hypothesis", ref)
    targets = plan.robustness_targets(spec)
    if spec.estimator is not None:
        for h in targets:
            if spec.estimator not in ESTIMATORS_BY_KIND[h.kind]:
                add(
                    f"{at}.estimator",
                    f"does not apply to {h.id} ({h.kind})",
                    spec.estimator,
                )
        if spec.estimator == "randomisation" and plan.design.assignment not in RANDOMISED:
            add(f"{at}.estimator", "randomisation inference needs a randomised design")
    if spec.adjust_for is not None:
        for h in targets:
            if h.kind not in ("pool_share", "stage_gap", "gap_difference"):
                add(
                    f"{at}.adjust_for",
                    f"adjust_for applies to pool_share (covariates) and to stage_gap and "
                    f"gap_difference (the gap varies with the columns), not {h.id} "
                    f"({h.kind})",
                )
    if spec.population_weights and plan.representativeness is None:
        add(
            f"{at}.population_weights",
            "population weights need the representativeness section (its margins)",
        )
    if spec.reweight is not None:
        for h in targets:
            if spec.hypotheses and h.kind not in BETWEEN_ARMS:
                add(
                    f"{at}.reweight",
                    f"reweighting compares arms; {h.id} ({h.kind}) looks within one arm",
                )
    changes = (
        spec.estimator,
        spec.adjust_for is not None,
        spec.exclude,
        spec.missing_group,
        spec.reweight is not None,
        spec.population_weights,
        spec.response_weights is not None,
    )
    if spec.response_weights is not None and (
        spec.missing_group is not None or spec.reweight is not None or spec.population_weights
    ):
        add(
            f"{at}.response_weights",
            "response weights change who counts for a missing answer: combine them with "
            "no other weighting or fill-in in one specification",
        )
    if not any(changes):
        add(at, "a robustness specification must change something")


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, as shipped in analysis_plans/plan.schema.json and
    inside the package (pilot_eval/formats/plan.schema.json)."""
    schema = AnalysisPlan.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "pilot-eval/plan-format-1"
    return schema
