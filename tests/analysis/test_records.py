"""The result records: typed, frozen, exhaustive, and the source of results.json."""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.analysis.records.base import Record
from pilot_eval.analysis.records.statistics import Contradiction
from pilot_eval.privacy.withhold import NotPersons, PersonCount, ShareOf
from tests.numbers import EXAMPLE_RESULTS


def _types_in(annotation: Any) -> Iterator[Any]:
    """Every type an annotation is made of (through Annotated, unions, lists, dicts)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _types_in(arg)


def _records(root: type[Record] = Results) -> list[type[Record]]:
    seen: list[type[Record]] = []
    todo: list[type[Record]] = [root]
    while todo:
        record = todo.pop()
        if record in seen:
            continue
        seen.append(record)
        for f in record.model_fields.values():
            for t in _types_in(f.annotation):
                if isinstance(t, type) and issubclass(t, Record):
                    todo.append(t)
    return seen


def _ints(annotation: Any, marks: tuple[object, ...]) -> Iterator[tuple[object, ...]]:
    """The markers in force at every ``int`` an annotation holds, through Annotated,
    unions (``| None``), the items of a list and the values of a mapping."""
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        yield from _ints(inner, marks + tuple(extra))
    elif annotation is int:
        yield marks
    elif typing.get_origin(annotation) in (typing.Union, types.UnionType, list):
        for arg in typing.get_args(annotation):
            yield from _ints(arg, marks)
    elif typing.get_origin(annotation) is dict:
        yield from _ints(typing.get_args(annotation)[1], marks)


def _integer_fields() -> Iterator[tuple[str, tuple[object, ...]]]:
    """(record.field, markers) of every integer a field holds, also inside an optional
    mapping or list."""
    for record in _records():
        for name, f in record.model_fields.items():
            for marks in _ints(f.annotation, tuple(f.metadata)):
                yield f"{record.__name__}.{name}", marks


def test_every_integer_says_whether_it_counts_persons() -> None:
    # disclosure control hides what the records declare as counts of persons: a new integer
    # field must say which it is, or a count of applicants could be published unprotected
    undecided = [
        where
        for where, marks in _integer_fields()
        if not any(isinstance(m, PersonCount | NotPersons) for m in marks)
    ]
    assert not undecided, undecided


def test_the_walk_sees_integers() -> None:
    fields = dict(_integer_fields())
    assert any(isinstance(m, PersonCount) for m in fields["HypothesisResult.n_applications"])
    assert any(isinstance(m, NotPersons) for m in fields["HypothesisResult.n_vacancies"])
    assert any(isinstance(m, PersonCount) for m in fields["ArmCounts.reached"])
    # inside an optional mapping too
    assert any(isinstance(m, PersonCount) for m in fields["MissingDataBounds.missing"])


def test_every_share_rests_on_counts_of_its_record() -> None:
    checked = 0
    for record in _records():
        for name, f in record.model_fields.items():
            for mark in f.metadata:
                if isinstance(mark, ShareOf):
                    for count in (mark.count, mark.base):
                        assert count in record.model_fields, (record.__name__, name, count)
                        marks = record.model_fields[count].metadata
                        assert any(isinstance(m, PersonCount) for m in marks), (name, count)
                    checked += 1
    assert checked >= 5


def test_results_json_is_generated_from_the_records() -> None:
    text = EXAMPLE_RESULTS.read_text(encoding="utf-8")
    results = Results.model_validate_json(text)
    assert results.dumps() == text


def test_records_are_frozen_and_refuse_unknown_fields() -> None:
    results = Results.model_validate_json(EXAMPLE_RESULTS.read_text(encoding="utf-8"))
    with pytest.raises(pydantic.ValidationError):
        results.hypotheses[0].verdict = "met"  # type: ignore[misc]
    data = json.loads(EXAMPLE_RESULTS.read_text(encoding="utf-8"))
    data["hypotheses"][0]["verdikt"] = "met"
    with pytest.raises(pydantic.ValidationError, match="verdikt"):
        Results.model_validate(data)


def test_a_contradiction_keeps_only_the_fields_of_its_kind() -> None:
    found = Contradiction.model_validate(
        {"hypothesis": "H1", "kind": "robustness_flip", "specification": "R1", "detail": "d"}
    )
    assert found.model_dump(mode="json", exclude_unset=True) == {
        "hypothesis": "H1",
        "kind": "robustness_flip",
        "specification": "R1",
        "detail": "d",
    }
    with pytest.raises(pydantic.ValidationError):
        Contradiction.model_validate({"hypothesis": "H1", "kind": "unknown", "detail": "d"})


def test_results_json_is_valid_against_the_published_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from pilot_eval.api import results_schema

    schema = results_schema()
    assert schema["$id"].endswith("results-format-1")
    validator = jsonschema.Draft202012Validator(schema)
    data = json.loads(EXAMPLE_RESULTS.read_text(encoding="utf-8"))
    assert not sorted(str(e.path) for e in validator.iter_errors(data))
    data["hypotheses"][0]["verdict"] = "perhaps"
    assert [list(e.path) for e in validator.iter_errors(data)] == [["hypotheses", 0, "verdict"]]
