"""Number formatting and rendering of the report (formatting only, from results.json)."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest

from pilot_eval.report import Formatter, render
from pilot_eval.runner import evaluate, prepare_inputs

ROOT = Path(__file__).resolve().parent.parent


def test_dutch_number_conventions() -> None:
    f = Formatter(lang="nl", min_cell=10)
    assert f.num(12345.6789) == "12.345,679"
    assert f.num(-0.0123) == "-0,012"
    assert f.pct(0.1234) == "12,3%"
    assert f.p(0.0004) == "< 0,001"
    assert f.p(0.0312) == "0,031"
    assert f.count(24398) == "24.398"
    assert f.count(None) == "< 10"
    assert f.ci(-0.0123, 0.2) == "[-0,012; 0,200]"
    assert f.num(None) == "–"


def test_english_number_conventions() -> None:
    f = Formatter(lang="en", min_cell=5)
    assert f.num(12345.6789) == "12,345.679"
    assert f.p(0.0004) == "< 0.001"
    assert f.count(None) == "< 5"
    assert f.ci(-0.0123, 0.2) == "[-0.012, 0.200]"


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    inputs = prepare_inputs(
        ROOT / "analysis_plans" / "breed-werven-2024.yaml", ROOT / "data" / "synthetic", False
    )
    return json.loads(json.dumps(evaluate(inputs)))


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_renders_every_section(results: dict[str, object], lang: str, fmt: str) -> None:
    text = render(results, lang, fmt, "pilot-eval run plan.yaml --data d --out o")  # type: ignore[arg-type]
    headings = {
        "nl": ["Samenvatting", "Opzet van de pilot", "Vooraf vastgelegd analyseplan", "Resultaten"],
        "en": ["Summary", "Design of the pilot", "Pre-registered analysis plan", "Results"],
    }[lang]
    positions = [text.index(h) for h in headings]
    assert positions == sorted(positions)
    for h in ("H1", "H8"):
        assert h in text
    assert "pilot-eval run plan.yaml --data d --out o" in text
    assert "24.398" in text if lang == "nl" else "24,398" in text


def test_html_report_is_self_contained(results: dict[str, object]) -> None:
    text = render(results, "nl", "html", "cmd")  # type: ignore[arg-type]
    assert "<style>" in text
    assert "http://" not in text.replace("http://www.w3.org", "")
    assert "<link" not in text
    assert "<script src" not in text


def test_strict_undefined_catches_a_missing_field(results: dict[str, object]) -> None:
    broken = json.loads(json.dumps(results))
    del broken["data"]["n_vacancies"]
    with pytest.raises(jinja2.UndefinedError):
        render(broken, "nl", "md", "cmd")  # type: ignore[arg-type]


def test_html_escapes_plan_text(results: dict[str, object]) -> None:
    changed = json.loads(json.dumps(results))
    changed["plan"]["title"] = "<script>alert(1)</script>"
    text = render(changed, "nl", "html", "cmd")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text
