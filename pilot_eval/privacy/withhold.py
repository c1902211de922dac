"""Disclosure control of every count and share that results.json publishes.

The descriptive tables are protected where they are made (``descriptives``, with
complementary suppression). This pass covers the counts that come with the statistics:
the applications a test used, the cells of a 2x2 table, the rows an exclusion removed,
the applicants of a diagnostic, the respondents, rated applications and coded answers of
the other evidence, the committee members of the training monitor. A count from 1 to
``min_cell - 1`` becomes null, and so does a rate or share whose count or base is
suppressed. Estimates, intervals and p-values are computed on the full data and stay as
they are.

What is a count of persons is declared by the type of each field of the result records
(:mod:`pilot_eval.analysis.records`), not guessed from its name: a field annotated with
:class:`PersonCount` is one, a field annotated with :class:`ShareOf` is a share hidden
with the counts it rests on, and :class:`NotPersons` says an integer counts no one.
:func:`protect_results` walks the results along the declared record types.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class PersonCount:
    """Marks an integer field that counts persons (applications, respondents, members)."""


@dataclass(frozen=True)
class NotPersons:
    """Marks an integer field that counts no persons, and says what it counts."""

    what: str


@dataclass(frozen=True)
class ShareOf:
    """Marks a share of the record's ``count`` field over its ``base`` field: hidden when
    either is hidden or too small."""

    count: str
    base: str


def _is_small(value: Any, min_cell: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < min_cell


def _marks(annotation: Any) -> tuple[Any, tuple[object, ...]]:
    """The type inside ``Annotated`` and its markers."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return inner, tuple(extra)
    return annotation, ()


def _record_for(node: Mapping[str, Any], candidates: list[type[BaseModel]]) -> type[BaseModel]:
    """Of the records a value may be, the one it is: every key declared, every required
    field present if one fits so, and the fewest declared fields (a withheld gap of only a
    count and a reason is that record, not the full one). A value no record declares is a
    bug of the producer, not something to protect by guessing."""

    def names(record: type[BaseModel]) -> set[str]:
        return {f.alias or n for n, f in record.model_fields.items()}

    def required(record: type[BaseModel]) -> set[str]:
        return {f.alias or n for n, f in record.model_fields.items() if f.is_required()}

    fitting = [r for r in candidates if node.keys() <= names(r)]
    if not fitting:
        raise ValueError(f"no record of {[r.__name__ for r in candidates]} has {sorted(node)}")
    return min(fitting, key=lambda r: (not required(r) <= node.keys(), len(names(r))))


def _walk(value: Any, annotation: Any, min_cell: int) -> tuple[Any, int]:
    """``value`` with the small counts its type declares hidden, and how many were."""
    inner, marks = _marks(annotation)
    if any(isinstance(m, PersonCount) for m in marks):
        return (None, 1) if _is_small(value, min_cell) else (value, 0)
    origin = typing.get_origin(inner)
    if origin in (typing.Union, types.UnionType):
        records = [
            a for a in typing.get_args(inner) if isinstance(a, type) and issubclass(a, BaseModel)
        ]
        if isinstance(value, MutableMapping) and records:
            return value, _protect(value, _record_for(value, records), min_cell)
        for option in typing.get_args(inner):
            if option is not type(None):
                return _walk(value, option, min_cell)
        return value, 0
    if isinstance(inner, type) and issubclass(inner, BaseModel):
        if isinstance(value, MutableMapping):
            return value, _protect(value, inner, min_cell)
        return value, 0
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(inner)
        hidden = 0
        for i, v in enumerate(value):
            value[i], n = _walk(v, item, min_cell)
            hidden += n
        return value, hidden
    if origin is dict and isinstance(value, MutableMapping):
        _, item = typing.get_args(inner)
        hidden = 0
        for k in list(value):
            value[k], n = _walk(value[k], item, min_cell)
            hidden += n
        return value, hidden
    return value, 0


def _protect(node: MutableMapping[str, Any], record: type[BaseModel], min_cell: int) -> int:
    fields = {f.alias or name: f for name, f in record.model_fields.items()}
    small_shares = [
        key
        for key, f in fields.items()
        for mark in f.metadata
        if isinstance(mark, ShareOf)
        and key in node
        and (_is_small(node.get(mark.count), min_cell) or _is_small(node.get(mark.base), min_cell))
    ]
    hidden = 0
    for key, f in fields.items():
        if key not in node:
            continue
        if any(isinstance(m, PersonCount) for m in f.metadata):
            if _is_small(node[key], min_cell):
                node[key] = None
                hidden += 1
            continue
        node[key], n = _walk(node[key], f.annotation, min_cell)
        hidden += n
    for key in small_shares:
        if node[key] is not None:
            node[key] = None
            hidden += 1
    return hidden


def protect_results(
    results: MutableMapping[str, Any], record: type[BaseModel], min_cell: int
) -> int:
    """Suppress, in place, the small counts of persons of ``results`` (the JSON form of
    ``record``) and the shares resting on them; return how many values were hidden."""
    return _protect(results, record, min_cell)
