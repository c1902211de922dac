"""Loading a data bundle: find, read, validate every table and the links between them.

All problems of all tables are collected and raised together as one
:class:`~pilot_eval.errors.DataValidationError`, so a user fixes everything in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pilot_eval.errors import DataValidationError, PilotEvalError, Problem, problems_message
from pilot_eval.io import FORMATS, RawTable, find_table, read_table, sha256_file
from pilot_eval.plan import AnalysisPlan
from pilot_eval.schemas import TABLES, convert, validate_table


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
        Typed tables (``pilot_eval.schemas.convert``), in file order.
    """

    folder: Path
    files: dict[str, str]
    vacancies: pd.DataFrame
    applications: pd.DataFrame


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
    if problems:
        raise DataValidationError(problems_message(f"the data bundle {folder}", problems), problems)
    files = {raw.file: sha256_file(raw.path) for raw in sorted(raws.values(), key=lambda r: r.file)}
    return Bundle(
        folder=folder,
        files=files,
        vacancies=convert(raws["vacancies"]),
        applications=convert(raws["applications"]),
    )


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
