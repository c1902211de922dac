"""Records of the checks of the design: balance, missing answers, fidelity."""

from __future__ import annotations

from typing import Annotated, Literal

from pilot_eval.analysis.records.base import Persons, Real, Record, Vacancies, Whole
from pilot_eval.privacy.withhold import ShareOf


class ChiSquare(Record):
    """Pearson's chi-square test of a table, with how small its expected cells are."""

    statistic: Real
    df: Whole | None
    p_value: Real
    min_expected: Real
    cells_expected_below_5: Whole | None
    reason: str | None


class FisherExact(Record):
    """Fisher's exact test of a 2x2 table, with the odds ratio of ``odds_of``."""

    odds_ratio: Real
    p_value: Real
    odds_of: str


class CategoryBalance(Record):
    """One category of a covariate: vacancies and shares per arm."""

    n: dict[str, Vacancies]
    share: dict[str, Real]
    std_diff: Real


class CategoricalBalance(Record):
    """Balance of a categorical covariate of vacancies between two arms."""

    type: Literal["categorical"]
    n_missing: dict[str, Vacancies]
    categories: dict[str, CategoryBalance]
    max_abs_std_diff: Real
    chi_square: ChiSquare
    fisher_exact: FisherExact | None


class WelchT(Record):
    """Welch's t-test of two means."""

    statistic: Real
    df: Real
    p_value: Real
    reason: str | None


class NumericBalance(Record):
    """Balance of a numeric covariate of vacancies between two arms."""

    type: Literal["numeric"]
    n: dict[str, Vacancies]
    n_missing: dict[str, Vacancies]
    mean: dict[str, Real]
    sd: dict[str, Real]
    std_diff: Real
    max_abs_std_diff: Real
    welch_t: WelchT


class BinaryBalance(Record):
    """Balance of a yes/no covariate of vacancies between two arms."""

    type: Literal["binary"]
    n: dict[str, Vacancies]
    n_true: dict[str, Vacancies]
    n_missing: dict[str, Vacancies]
    share: dict[str, Real]
    std_diff: Real
    max_abs_std_diff: Real
    chi_square: ChiSquare
    fisher_exact: FisherExact | None


class BalanceFlag(Record):
    """A covariate (category) whose standardised difference passes the threshold."""

    covariate: str
    category: str | None
    std_diff: Real
    reason: str


class BalanceComparison(Record):
    """Balance of every covariate between one arm and the reference arm."""

    arm: str
    reference_arm: str
    n_vacancies: dict[str, Vacancies]
    covariates: dict[str, CategoricalBalance | NumericBalance | BinaryBalance]
    max_abs_std_diff: Real
    flagged: list[BalanceFlag]


class Balance(Record):
    """Covariate balance of the vacancies between the arms."""

    reference_arm: str
    assignment: str
    threshold: float
    note: str
    comparisons: dict[str, BalanceComparison]


class MissingInArm(Record):
    """Applications of one arm without a value of a column."""

    n_applications: Persons
    n_vacancies: Vacancies
    n_not_reported: Persons
    share_not_reported: Annotated[Real, ShareOf("n_not_reported", "n_applications")]


class ClusteredLpm(Record):
    """A linear probability model of a missing value on the arm, clustered by vacancy."""

    model: str
    estimate: Real
    std_error: Real
    statistic: Real
    statistic_name: str
    df: Whole | None
    p_value: Real
    n_applications: Persons
    n_vacancies: Vacancies
    reason: str | None


class MissingComparison(Record):
    """Whether one arm leaves a column open more often than the reference arm."""

    difference: Real
    clustered_lpm: ClusteredLpm
    naive_chi_square: ChiSquare


class MissingColumn(Record):
    """Missing values of one column, per arm and compared between arms."""

    arms: dict[str, MissingInArm]
    comparisons: dict[str, MissingComparison]


class Missingness(Record):
    """Missing values of the columns describing applicants."""

    reference_arm: str
    note: str
    columns: dict[str, MissingColumn]


class InterventionInArm(Record):
    """How often the vacancies of one arm applied an intervention."""

    n_vacancies: Vacancies
    n_applied: Vacancies
    n_not_applied: Vacancies
    n_missing: Vacancies
    share_applied: Real
    n_contamination: Vacancies | None = None
    n_fidelity_failures: Vacancies | None = None


class InterventionFidelity(Record):
    """One intervention, per arm."""

    arms: dict[str, InterventionInArm]


class AllPresentInArm(Record):
    """Vacancies of one arm by whether they applied every intervention."""

    n_vacancies: Vacancies
    n_all_applied: Vacancies
    n_none_applied: Vacancies
    n_any_missing: Vacancies
    share_all_applied: Real


class AllPresent(Record):
    """Vacancies that applied all the interventions recorded, per arm."""

    interventions: list[str]
    arms: dict[str, AllPresentInArm]


class Fidelity(Record):
    """Whether the vacancies applied the interventions of their arm."""

    reference_arm: str
    note: str
    columns: dict[str, InterventionFidelity]
    all_present: AllPresent | None


class Skipped(Record):
    """A check that could not run, and why."""

    diagnostic: str
    reason: str


class Diagnostics(Record):
    """The checks of the design."""

    balance: Balance
    missingness: Missingness
    fidelity: Fidelity
    skipped: list[Skipped]
