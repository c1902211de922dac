"""What every result record shares: frozen, no unknown fields, numbers typed for disclosure.

Every integer a record publishes says whether it counts persons. :data:`Persons` marks a
count of applications, respondents or committee members: disclosure control
(:func:`pilot_eval.privacy.withhold.protect_results`) hides it from 1 to
``disclosure.min_cell - 1``. :data:`Share` fields name the counts they rest on and are hidden
with them. :data:`Vacancies` and :data:`Number` (degrees of freedom, draws, iterations...)
are not counts of persons. ``tests/analysis/test_records.py`` fails on an integer field
that says neither.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict

from pilot_eval.privacy.withhold import NotPersons, PersonCount

Persons = Annotated[int | None, PersonCount()]
"""A count of persons; None where disclosure control withheld it."""

Vacancies = Annotated[int, NotPersons("vacancies")]
"""A count of vacancies: the unit of assignment, published in full."""

Whole = Annotated[int, NotPersons("not a count of persons")]
"""An integer that counts no one: degrees of freedom, draws, iterations, years, items."""

Real = float | None
"""A number; None where it is not defined or not estimable."""

Exact = Annotated[int | float | None, NotPersons("a number, not a count")]
"""A number kept as computed: a whole number stays one (a plan's threshold of 0, a
p-value of exactly 1), so that results.json keeps its bytes."""


class Record(BaseModel):
    """A result record: immutable, and refusing any field it does not declare."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
