"""Shared fixtures: the example plan and small bundles written into tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pilot_eval.plan.model import AnalysisPlan, load_plan
from pilot_eval.report.render import pdf_unavailable

PDF_MISSING = pdf_unavailable()
"""Why this machine cannot make the PDF report (WeasyPrint or Pango missing), or None."""

needs_pdf = pytest.mark.skipif(
    PDF_MISSING is not None, reason=f"the PDF report cannot be made here: {PDF_MISSING}"
)
"""Mark of a test that makes the PDF report: skipped, with the reason, without Pango."""

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_PLAN = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
SYNTHETIC = ROOT / "data" / "synthetic"

VACANCIES_CSV = """\
vacancy_id,department,function_family,salary_scale,arm,block,committee_trained
V1,BZK,beleid,10,control,B1,true
V2,BZK,beleid,10,pilot,B1,false
V3,FIN,ICT,8,control,B2,true
V4,FIN,ICT,9,pilot,B2,true
"""

APPLICATIONS_CSV = """\
application_id,vacancy_id,origin,gender,age_band,disability,stage_reached,questionnaire_score
A1,V1,netherlands,female,<30,false,applied,
A2,V1,outside_europe,male,30-44,true,invited,
A3,V2,netherlands,male,45-54,,interviewed,61.5
A4,V2,outside_europe,,55+,nee,hired,70
A5,V3,europe,female,30-44,ja,offered,
A6,V4,,other,<30,0,applied,55
"""


@pytest.fixture
def plan() -> AnalysisPlan:
    """The example plan."""
    return load_plan(EXAMPLE_PLAN).plan


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A small valid bundle (csv) in its own folder."""
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "vacancies.csv").write_text(VACANCIES_CSV, encoding="utf-8")
    (folder / "applications.csv").write_text(APPLICATIONS_CSV, encoding="utf-8")
    return folder


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """A copy of the example plan and its lock in their own folder."""
    folder = tmp_path / "plans"
    folder.mkdir()
    shutil.copy(EXAMPLE_PLAN, folder / EXAMPLE_PLAN.name)
    lock = EXAMPLE_PLAN.with_name(EXAMPLE_PLAN.stem + ".lock.json")
    shutil.copy(lock, folder / lock.name)
    return folder


@pytest.fixture(scope="module")
def plan_min_cell_1() -> AnalysisPlan:
    """The example plan with a minimum cell of 1, for hand calculations on tiny frames."""
    loaded = load_plan(EXAMPLE_PLAN).plan
    return loaded.model_copy(
        update={"disclosure": loaded.disclosure.model_copy(update={"min_cell": 1})}
    )
