"""Corrupted plans and bundles: every one ends in a PilotEvalError (exit 2), never a crash.

Property-based (hypothesis) with a bounded number of examples so that ``make test`` stays
fast; the strategies throw random bytes, truncated files, wrong types, huge values,
duplicate headers and other encodings at the loaders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilot_eval.cli import main
from pilot_eval.data.bundle import load_bundle
from pilot_eval.errors import PilotEvalError
from pilot_eval.plan.model import AnalysisPlan, load_plan
from tests.conftest import APPLICATIONS_CSV, EXAMPLE_PLAN, VACANCIES_CSV

PLAN_TEXT = EXAMPLE_PLAN.read_text(encoding="utf-8")
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
yaml_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _plan_outcome(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "plan.yaml"
    path.write_bytes(data)
    error: PilotEvalError | None = None
    try:
        load_plan(path)
    except PilotEvalError as exc:
        error = exc
    assert error is None or error.report()


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_as_plan(tmp_path: Path, data: bytes) -> None:
    _plan_outcome(tmp_path, data)


@FUZZ
@given(st.integers(min_value=0, max_value=len(PLAN_TEXT)))
def test_truncated_plan(tmp_path: Path, cut: int) -> None:
    _plan_outcome(tmp_path, PLAN_TEXT[:cut].encode("utf-8"))


@FUZZ
@given(yaml_values)
def test_random_yaml_structure_as_plan(tmp_path: Path, value: object) -> None:
    _plan_outcome(tmp_path, yaml.safe_dump(value, allow_unicode=True).encode("utf-8"))


@FUZZ
@given(st.sampled_from(sorted(yaml.safe_load(PLAN_TEXT))), yaml_values)
def test_plan_with_one_key_replaced(tmp_path: Path, key: str, value: object) -> None:
    data = yaml.safe_load(PLAN_TEXT)
    data[key] = value
    _plan_outcome(tmp_path, yaml.safe_dump(data, allow_unicode=True).encode("utf-8"))


def _bundle_outcome(folder: Path, plan: AnalysisPlan) -> None:
    error: PilotEvalError | None = None
    try:
        load_bundle(folder, plan)
    except PilotEvalError as exc:
        error = exc
    assert error is None or error.problems or error.message


def _fresh_bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir()
    (folder / "vacancies.csv").write_text(VACANCIES_CSV, encoding="utf-8")
    (folder / "applications.csv").write_text(APPLICATIONS_CSV, encoding="utf-8")
    return folder


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_as_applications(tmp_path: Path, plan: AnalysisPlan, data: bytes) -> None:
    folder = _fresh_bundle(tmp_path)
    (folder / "applications.csv").write_bytes(data)
    _bundle_outcome(folder, plan)


@FUZZ
@given(st.integers(min_value=0, max_value=len(APPLICATIONS_CSV)))
def test_truncated_applications(tmp_path: Path, plan: AnalysisPlan, cut: int) -> None:
    folder = _fresh_bundle(tmp_path)
    (folder / "applications.csv").write_text(APPLICATIONS_CSV[:cut], encoding="utf-8")
    _bundle_outcome(folder, plan)


cells = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.just(""),
    st.just('"'),
    st.just("a,b"),
)


@FUZZ
@given(
    st.sampled_from(["vacancies", "applications"]),
    st.integers(min_value=0, max_value=6),
    st.integers(min_value=0, max_value=7),
    cells,
)
def test_one_cell_replaced(
    tmp_path: Path, plan: AnalysisPlan, table: str, row: int, col: int, value: str
) -> None:
    folder = _fresh_bundle(tmp_path)
    path = folder / f"{table}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    r = row % len(lines)
    parts = lines[r].split(",")
    parts[col % len(parts)] = value
    lines[r] = ",".join(parts)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _bundle_outcome(folder, plan)


@FUZZ
@given(st.sampled_from(["latin-1", "utf-16", "cp1252", "utf-8-sig"]))
def test_other_encodings(tmp_path: Path, plan: AnalysisPlan, encoding: str) -> None:
    folder = _fresh_bundle(tmp_path)
    text = APPLICATIONS_CSV.replace("A1,", "Aé1,")
    (folder / "applications.csv").write_bytes(text.encode(encoding))
    _bundle_outcome(folder, plan)


def test_duplicate_header_and_huge_file_values(tmp_path: Path, plan: AnalysisPlan) -> None:
    folder = _fresh_bundle(tmp_path)
    header, *rest = APPLICATIONS_CSV.splitlines()
    (folder / "applications.csv").write_text(
        "\n".join([header + ",origin", *(r + ",x" for r in rest)]) + "\n", encoding="utf-8"
    )
    with pytest.raises(PilotEvalError, match="header"):
        load_bundle(folder, plan)
    folder = _fresh_bundle(tmp_path)
    path = folder / "vacancies.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",10,", "," + "9" * 400 + ",", 1))
    with pytest.raises(PilotEvalError):
        load_bundle(folder, plan)


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=200))
def test_cli_never_leaves_a_partial_output(
    tmp_path: Path, plan_dir: Path, data: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _fresh_bundle(tmp_path)
    (folder / "applications.csv").write_bytes(data)
    out = tmp_path / "result"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "run",
                str(plan_dir / "breed-werven-2024.yaml"),
                "--data",
                str(folder),
                "--out",
                str(out),
            ]
        )
    err = capsys.readouterr().err
    if info.value.code == 2:
        assert "Traceback" not in err
        assert not out.exists()
        assert not list(tmp_path.glob(".result.partial-*"))
    else:
        assert info.value.code == 0
        shutil.rmtree(out)


def test_a_lone_carriage_return_in_a_cell_is_a_clear_error(
    tmp_path: Path, plan: AnalysisPlan
) -> None:
    # found by test_one_cell_replaced: a "\r" inside a field raised csv.Error
    folder = _fresh_bundle(tmp_path)
    path = folder / "vacancies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("BZK", "B\rZK", 1)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _bundle_outcome(folder, plan)
