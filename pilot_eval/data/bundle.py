"""Loading a data bundle: find, read, validate every table and the links between them.

All problems of all tables are collected and raised together as one
:class:`~pilot_eval.errors.DataValidationError`, so a user fixes everything in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pilot_eval.data.files import FORMATS, RawTable, find_table, read_table, sha256_file
from pilot_eval.data.tables import REQUIRED_TABLES, TABLES, convert, validate_table
from pilot_eval.errors import DataValidationError, PilotEvalError, Problem, problems_message
from pilot_eval.plan.model import AnalysisPlan


@dataclass(frozen=True)
class Bundle:
    """A validated data bundle.

    Attributes
    ----------
    folder:
        Where the bundle was read from.
    files:
        File name -> SHA-256 of every table read, sorted by name.
    vacancies, applications:
        Typed tables (``pilot_eval.data.tables.convert``), in file order.
    optional:
        The optional tables present (interview_ratings, survey, committee_training,
        population), typed, by table name.
    """

    folder: Path
    files: dict[str, str]
    vacancies: pd.DataFrame
    applications: pd.DataFrame
    optional: dict[str, pd.DataFrame] = field(default_factory=dict)

    def table(self, name: str) -> pd.DataFrame | None:
        """An optional table, or None when the bundle does not have it."""
        return self.optional.get(name)


def load_bundle(folder: Path, plan: AnalysisPlan) -> Bundle:
    """Read and validate the bundle in ``folder`` against the data contract and the plan.

    Raises
    ------
    DataValidationError
        Listing every problem of every table.
    """
    if not folder.is_dir():
        raise DataValidationError(f"The data folder {folder} does not exist or is not a folder.")
    problems: list[Problem] = []
    raws: dict[str, RawTable] = {}
    for name in TABLES:
        try:
            path = find_table(folder, name)
            if path is None and name not in REQUIRED_TABLES:
                continue
            if path is None:
                formats = "/".join(ext.lstrip(".") for ext in FORMATS)
                problems.append(
                    Problem(
                        f"{name}.{{{formats}}}", f"required table '{name}' not found in {folder}"
                    )
                )
                continue
            raws[name] = read_table(path, name)
        except PilotEvalError as exc:
            problems.extend(exc.problems or [Problem(name, exc.message)])
    for raw in raws.values():
        problems.extend(validate_table(raw, plan))
    if not problems:
        problems.extend(_links(raws["vacancies"], raws["applications"], plan))
        problems.extend(optional_links(raws, plan))
    if problems:
        raise DataValidationError(problems_message(f"the data bundle {folder}", problems), problems)
    files = {raw.file: sha256_file(raw.path) for raw in sorted(raws.values(), key=lambda r: r.file)}
    return Bundle(
        folder=folder,
        files=files,
        vacancies=convert(raws["vacancies"]),
        applications=convert(raws["applications"]),
        optional={
            name: convert(raw, plan) for name, raw in raws.items() if name not in REQUIRED_TABLES
        },
    )


def _row_problems(
    raw: RawTable, bad: pd.Series, column: str, rule: str, values: pd.Series | None = None
) -> list[Problem]:
    shown = raw.frame[column] if values is None else values
    return [
        Problem(
            raw.file,
            rule,
            row=raw.row_of(int(pos)),
            column=column,
            value=None if pd.isna(shown.iloc[pos]) else str(shown.iloc[pos]),
        )
        for pos in bad.to_numpy().nonzero()[0]
    ]


def optional_links(raws: dict[str, RawTable], plan: AnalysisPlan) -> list[Problem]:
    """Rules of the optional tables between rows and with the applications."""
    problems: list[Problem] = []
    known = pd.Index(raws["applications"].frame["application_id"])
    applications = raws["applications"].file
    for name in ("interview_ratings", "survey"):
        raw = raws.get(name)
        if raw is not None:
            # a hash lookup: Series.isin on Arrow strings walks the ids in Python
            dangling = pd.Series(known.get_indexer(pd.Index(raw.frame["application_id"])) < 0)
            problems += _row_problems(
                raw, dangling, "application_id", f"no application with this id in {applications}"
            )
    ratings = raws.get("interview_ratings")
    if ratings is not None:
        keys = ("application_id", "rater_id", "criterion", "instrument")
        present = [c for c in keys if c in ratings.frame]
        twice = ratings.frame.duplicated(present, keep="first")
        problems += _row_problems(
            ratings,
            twice,
            "rater_id",
            "this rater already rated this criterion of this application",
        )
    training = raws.get("committee_training")
    if training is not None:
        f = training.frame
        twice = f.duplicated(["department", "year"], keep="first")
        problems += _row_problems(
            training, twice, "year", "this department already has a row for this year"
        )
        trained = pd.to_numeric(f["members_trained"], errors="coerce")
        required = pd.to_numeric(f["members_required"], errors="coerce")
        problems += _row_problems(
            training,
            trained > required,
            "members_trained",
            "more members trained than required",
        )
    survey = raws.get("survey")
    if survey is not None and plan.survey is not None and plan.survey.open_answers:
        o = plan.survey.open_answers
        allowed = {t.code for t in o.codebook}
        for coder in o.coders:
            if coder not in survey.frame:
                continue
            item = "|".join(re.escape(c) for c in sorted(allowed))
            # codes separated by ';', spaces and empty pieces allowed ("a; b;")
            valid = rf"\s*(?:{item})?\s*(?:;\s*(?:{item})?\s*)*"
            codes = survey.frame[coder].astype("string").fillna("")
            unknown = ~codes.str.fullmatch(valid).fillna(False).astype(bool)
            problems += _row_problems(
                survey,
                unknown,
                coder,
                f"a theme code not in the plan's codebook ({', '.join(sorted(allowed))})",
            )
    problems.sort(key=lambda p: (p.file, p.row or 0, p.column or ""))
    return problems


def _links(vacancies: RawTable, applications: RawTable, plan: AnalysisPlan) -> list[Problem]:
    """Rules between tables and between data and plan."""
    problems: list[Problem] = []
    known = pd.Index(vacancies.frame["vacancy_id"])
    ids = applications.frame["vacancy_id"]
    dangling = ~ids.isin(known)
    for pos in dangling.to_numpy().nonzero()[0]:
        problems.append(
            Problem(
                applications.file,
                f"no vacancy with this vacancy_id in {vacancies.file}",
                row=applications.row_of(int(pos)),
                column="vacancy_id",
                value=str(ids.iloc[pos]),
            )
        )
    present = set(vacancies.frame["arm"])
    for arm in plan.design.arms:
        if arm not in present:
            problems.append(
                Problem(
                    vacancies.file,
                    "the plan declares this arm but no vacancy belongs to it",
                    column="arm",
                    value=arm,
                )
            )
    return problems
