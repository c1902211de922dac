"""The tables of the data bundle: their columns, rules and pandera schemas.

The rules are declared once, as :class:`ColumnSpec` lists; from them come the pandera
schemas that validate a table lazily (every failure at once), the conversion of validated
text to typed columns, and the data dictionary in ``docs/``.

Validation runs on the text as read from the file (``pilot_eval.data.files``), so that every
message can show the value exactly as the user typed it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa

from pilot_eval.data.files import RawTable
from pilot_eval.errors import Problem
from pilot_eval.plan.model import STAGES, AnalysisPlan

ColumnType = Literal["string", "integer", "number", "boolean", "date", "category", "ordered"]

TRUE_WORDS = ("true", "1", "ja", "waar")
FALSE_WORDS = ("false", "0", "nee", "onwaar")
BOOLEAN_WORDS = TRUE_WORDS + FALSE_WORDS

ORIGINS = ("netherlands", "europe", "outside_europe")
GENDERS = ("female", "male", "other")
AGE_BANDS = ("<30", "30-44", "45-54", "55+")
DEMOGRAPHICS = ("origin", "gender", "age_band", "disability")
"""The voluntary background questions, in the order tables show them."""
NOT_REPORTED = "not_reported"
"""The value a table shows for an application whose background question is unanswered."""
SCALE_BANDS = ((1, 8, "1-8"), (9, 10, "9-10"), (11, 12, "11-12"), (13, 18, "13-18"))
"""Salary-scale bands of the central government's scales 1-18: (low, high, label)."""


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table and its rules.

    Attributes
    ----------
    name, type, description:
        What the column is.
    required:
        The column must be present in the file.
    nullable:
        Empty cells are allowed (missing).
    unique:
        No value may occur twice.
    values:
        The allowed values (vocabulary) of a category; for ``ordered``, in order.
    low, high:
        Inclusive bounds of an integer or number.
    """

    name: str
    type: ColumnType
    description: str
    required: bool = False
    nullable: bool = True
    unique: bool = False
    values: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    def rule(self) -> str:
        """The rules of the column in words, as the data dictionary shows them."""
        parts: list[str] = []
        if self.type == "integer":
            parts.append("whole number")
        elif self.type == "number":
            parts.append("number (decimal point)")
        elif self.type == "boolean":
            parts.append("/".join(BOOLEAN_WORDS))
        elif self.type == "date":
            parts.append("date YYYY-MM-DD")
        elif self.type in ("category", "ordered"):
            sep = " < " if self.type == "ordered" else ", "
            parts.append("one of " + sep.join(self.values))
        if self.low is not None and self.high is not None:
            parts.append(f"from {_bound(self.low)} to {_bound(self.high)}")
        if self.unique:
            parts.append("unique")
        if not self.nullable:
            parts.append("never empty")
        return "; ".join(parts)


VACANCY_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "vacancy_id",
        "string",
        "Identifier of the vacancy procedure.",
        required=True,
        nullable=False,
        unique=True,
    ),
    ColumnSpec("department", "string", "Ministry or agency.", required=True, nullable=False),
    ColumnSpec("function_family", "string", "Function family.", required=True, nullable=False),
    ColumnSpec(
        "salary_scale",
        "integer",
        "Rijksschaal of the position.",
        required=True,
        nullable=False,
        low=1,
        high=18,
    ),
    ColumnSpec("managerial", "boolean", "A managerial position."),
    ColumnSpec("opened_on", "date", "Date the vacancy opened."),
    ColumnSpec(
        "arm",
        "category",
        "Arm of the vacancy; one of the plan's design.arms.",
        required=True,
        nullable=False,
    ),
    ColumnSpec("inclusive_text", "boolean", "Inclusive vacancy text was used (fidelity)."),
    ColumnSpec(
        "anonymous_questionnaire",
        "boolean",
        "Anonymously assessed standardised questionnaire was used (fidelity).",
    ),
    ColumnSpec("structured_interview", "boolean", "Structured interview was used (fidelity)."),
    ColumnSpec("block", "string", "Randomisation block or matched pair."),
    ColumnSpec(
        "committee_trained",
        "boolean",
        "All committee members followed the mandatory workshop.",
    ),
)

APPLICATION_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "application_id",
        "string",
        "Identifier of the application.",
        required=True,
        nullable=False,
        unique=True,
    ),
    ColumnSpec(
        "vacancy_id",
        "string",
        "The vacancy applied to; must exist in vacancies.",
        required=True,
        nullable=False,
    ),
    ColumnSpec("origin", "category", "Country of origin (CBS herkomstland).", values=ORIGINS),
    ColumnSpec("gender", "category", "Gender.", values=GENDERS),
    ColumnSpec("age_band", "category", "Age band.", values=AGE_BANDS),
    ColumnSpec("disability", "boolean", "Arbeidsbeperking (occupational disability)."),
    ColumnSpec(
        "stage_reached",
        "ordered",
        "Last stage the application reached.",
        required=True,
        nullable=False,
        values=STAGES,
    ),
    ColumnSpec("withdrew", "boolean", "The applicant withdrew at stage_reached (default false)."),
    ColumnSpec(
        "questionnaire_score",
        "number",
        "Score on the standardised questionnaire; within the plan's score_ranges "
        "(else +/- 1,000,000).",
    ),
    ColumnSpec(
        "interview_score",
        "number",
        "Score in the interview; within the plan's score_ranges (else +/- 1,000,000).",
    ),
)

INSTRUMENTS = ("interview", "questionnaire")

SCORE_COLUMNS: dict[str, tuple[str, ...]] = {
    "applications": ("questionnaire_score", "interview_score"),
    "interview_ratings": ("score",),
}
"""Score columns, whose range the plan declares (``score_ranges``; else +/- 1,000,000)."""

INTERVIEW_RATING_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "application_id",
        "string",
        "The application rated; must exist in applications.",
        required=True,
        nullable=False,
    ),
    ColumnSpec("rater_id", "string", "Pseudonym of the rater.", required=True, nullable=False),
    ColumnSpec("criterion", "string", "Criterion or item rated.", required=True, nullable=False),
    ColumnSpec(
        "score",
        "number",
        "The rating; within the plan's score_ranges (else +/- 1,000,000).",
        required=True,
        nullable=False,
    ),
    ColumnSpec(
        "instrument",
        "category",
        "What was rated: the interview (default) or an item of the questionnaire.",
        values=INSTRUMENTS,
    ),
)

SURVEY_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "application_id",
        "string",
        "The application whose applicant was invited to the survey; must exist in applications.",
        required=True,
        nullable=False,
        unique=True,
    ),
    ColumnSpec("responded", "boolean", "The applicant responded.", required=True, nullable=False),
    ColumnSpec(
        "answered", "boolean", "The applicant wrote an open answer (its text is never read)."
    ),
)
"""Fixed columns of `survey`; the plan names its Likert items and coder columns."""

COMMITTEE_TRAINING_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("department", "string", "Ministry or agency.", required=True, nullable=False),
    ColumnSpec(
        "year", "integer", "Calendar year.", required=True, nullable=False, low=1990, high=2100
    ),
    ColumnSpec(
        "members_required",
        "integer",
        "Selection-committee members who had to follow the workshop.",
        required=True,
        nullable=False,
        low=0,
        high=1_000_000,
    ),
    ColumnSpec(
        "members_trained",
        "integer",
        "Of those, members who followed it; at most members_required.",
        required=True,
        nullable=False,
        low=0,
        high=1_000_000,
    ),
)

POPULATION_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("department", "string", "Ministry or agency.", required=True, nullable=False),
    ColumnSpec("function_family", "string", "Function family.", required=True, nullable=False),
    ColumnSpec(
        "salary_scale",
        "integer",
        "Rijksschaal.",
        required=True,
        nullable=False,
        low=1,
        high=18,
    ),
    ColumnSpec(
        "vacancies",
        "integer",
        "Number of vacancies of the period with these values (default 1: one row per vacancy).",
        low=0,
        high=10_000_000,
    ),
)

TABLES: Mapping[str, tuple[ColumnSpec, ...]] = {
    "vacancies": VACANCY_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "interview_ratings": INTERVIEW_RATING_COLUMNS,
    "survey": SURVEY_COLUMNS,
    "committee_training": COMMITTEE_TRAINING_COLUMNS,
    "population": POPULATION_COLUMNS,
}
"""The tables of a bundle and their columns."""

REQUIRED_TABLES = ("vacancies", "applications")
"""Tables every bundle has; the others are optional."""


def plan_columns(table: str, plan: AnalysisPlan) -> tuple[ColumnSpec, ...]:
    """Columns a table has because the plan names them (the survey's items and coders)."""
    if table != "survey" or plan.survey is None:
        return ()
    s = plan.survey
    low, high = float(s.likert.min), float(s.likert.max)
    out = [
        ColumnSpec(item, "number", f"Likert item of scale {scale}.", low=low, high=high)
        for scale, items in s.scales.items()
        for item in items
    ]
    if s.open_answers is not None:
        out += [
            ColumnSpec(c, "string", "Theme codes of one coder, separated by ';'.")
            for c in s.open_answers.coders
        ]
    return tuple(out)


def table_columns(table: str, plan: AnalysisPlan) -> tuple[ColumnSpec, ...]:
    """Every declared column of a table: the contract's and the plan's."""
    return TABLES[table] + plan_columns(table, plan)


# --------------------------------------------------------------------------------------
# checks on text


def _as_integer(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.where(s.str.fullmatch(r"[+-]?\d+")), errors="coerce")


def _as_number(s: pd.Series) -> pd.Series:
    ok = s.str.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?").fillna(False).astype(bool)
    # what the pattern accepts, a cast to float reads (twice as fast as pd.to_numeric)
    return s.where(ok).astype("float64")


def _as_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(
        s.where(s.str.fullmatch(r"\d{4}-\d{2}-\d{2}")), format="%Y-%m-%d", errors="coerce"
    )


def _bound(x: float) -> str:
    """A bound in words: large whole numbers in full ("1,000,000"), others as written."""
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) >= 10_000 else f"{x:g}"


def _checks(spec: ColumnSpec, values: Sequence[str]) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if spec.type == "integer":
        checks.append(pa.Check(lambda s: _as_integer(s).notna(), error="must be a whole number"))
    elif spec.type == "number":
        checks.append(
            pa.Check(
                lambda s: np.isfinite(_as_number(s).astype("float64")),
                error="must be a number with a decimal point (e.g. 7.5)",
            )
        )
    elif spec.type == "boolean":
        checks.append(
            pa.Check(
                lambda s: s.str.lower().isin(BOOLEAN_WORDS),
                error="must be one of " + "/".join(BOOLEAN_WORDS),
            )
        )
    elif spec.type == "date":
        checks.append(
            pa.Check(lambda s: _as_date(s).notna(), error="must be a date written YYYY-MM-DD")
        )
    elif spec.type in ("category", "ordered"):
        allowed = tuple(values)
        checks.append(
            pa.Check(lambda s: s.isin(allowed), error="must be one of " + ", ".join(allowed))
        )
    if spec.low is not None and spec.high is not None:
        low, high = spec.low, spec.high
        parse: Callable[[pd.Series], pd.Series] = (
            _as_integer if spec.type == "integer" else _as_number
        )

        def within_bounds(s: pd.Series) -> pd.Series:
            x = parse(s)
            # an unparsable value is reported by the type check, not here as well
            return x.isna() | x.between(low, high)

        checks.append(
            pa.Check(within_bounds, error=f"must be from {_bound(low)} to {_bound(high)}")
        )
    return checks


def table_schema(table: str, plan: AnalysisPlan) -> pa.DataFrameSchema:
    """The pandera schema of a table, with the vocabularies that depend on the plan.

    Columns the plan names (block, adjust_for, group columns, scores) become required.
    """
    named = {
        "vacancies": set(plan.vacancy_columns()),
        "applications": set(plan.application_columns()),
        "survey": set(plan.survey_columns()),
    }.get(table, set())
    columns: dict[str, pa.Column] = {}
    for spec in table_columns(table, plan):
        if spec.name in SCORE_COLUMNS.get(table, ()):
            low, high = plan.score_range(spec.name)
            spec = dataclasses.replace(spec, low=low, high=high)
        values = plan.design.arms if spec.name == "arm" else spec.values
        nullable = spec.nullable
        if spec.name == plan.design.block and plan.design.assignment == "block_randomised":
            nullable = False
        columns[spec.name] = pa.Column(
            checks=_checks(spec, values),
            nullable=nullable,
            unique=spec.unique,
            required=spec.required or spec.name in named,
            report_duplicates="all",
        )
    scores = set(plan.score_columns()) if table == "applications" else set()
    for extra in sorted(named - set(columns)):
        low, high = plan.score_range(extra)
        score = (
            ColumnSpec(extra, "number", "score named by the plan", low=low, high=high)
            if extra in scores
            else None
        )
        columns[extra] = pa.Column(
            checks=_checks(score, ()) if score else [], required=True, nullable=True
        )
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


def validate_table(raw: RawTable, plan: AnalysisPlan) -> list[Problem]:
    """Validate one table lazily; return every problem found (empty when valid)."""
    schema = table_schema(raw.name, plan)
    try:
        schema.validate(raw.frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return _problems(raw, exc.failure_cases)
    return []


_PANDERA_RULES = {
    "column_in_dataframe": "required column is missing (the plan or the data contract needs it)",
    "not_nullable": "must not be empty",
    "field_uniqueness": "must be unique, but this value occurs more than once",
}


def _problems(raw: RawTable, cases: pd.DataFrame) -> list[Problem]:
    problems: list[Problem] = []
    for case in cases.to_dict("records"):
        check = str(case["check"])
        rule = _PANDERA_RULES.get(check, check)
        failure = case["failure_case"]
        if check == "column_in_dataframe":
            problems.append(Problem(raw.file, rule, column=str(failure)))
            continue
        index = case["index"]
        row = None if index is None or pd.isna(index) else raw.row_of(int(index))
        shown = None if check == "not_nullable" or pd.isna(failure) else str(failure)
        column = case["column"]
        problems.append(
            Problem(
                raw.file,
                rule,
                row=row,
                column=None if column is None else str(column),
                value=shown,
            )
        )
    problems.sort(key=lambda p: (p.row or 0, p.column or "", p.rule))
    return problems


# --------------------------------------------------------------------------------------
# conversion of validated text


def convert(raw: RawTable, plan: AnalysisPlan | None = None) -> pd.DataFrame:
    """Typed copy of a validated table.

    Integers become ``Int64``, numbers ``float64``, booleans ``boolean``, dates
    ``datetime64``, categories ``category`` (ordered for stages); other columns stay text.
    """
    frame = raw.frame.copy()
    specs = TABLES[raw.name] if plan is None else table_columns(raw.name, plan)
    for spec in specs:
        if spec.name not in frame:
            continue
        s = frame[spec.name]
        if spec.type == "integer":
            frame[spec.name] = _as_integer(s).astype("Int64")
        elif spec.type == "number":
            frame[spec.name] = _as_number(s).astype("float64")
        elif spec.type == "boolean":
            low = s.str.lower()
            typed = pd.Series(pd.NA, index=s.index, dtype="boolean")
            typed[low.isin(TRUE_WORDS)] = True
            typed[low.isin(FALSE_WORDS)] = False
            frame[spec.name] = typed
        elif spec.type == "date":
            frame[spec.name] = _as_date(s)
        elif spec.type == "ordered":
            frame[spec.name] = pd.Categorical(s, categories=list(spec.values), ordered=True)
        elif spec.type == "category" and spec.values:
            frame[spec.name] = pd.Categorical(s, categories=list(spec.values))
    return frame
