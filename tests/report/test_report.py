"""Number formatting and rendering of the report (formatting only, from results.json)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jinja2
import pydantic
import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.pipeline.run import evaluate, prepare_inputs
from pilot_eval.report.render import Formatter, environment, render
from tests.numbers import EXAMPLE_RESULTS

ROOT = Path(__file__).resolve().parents[2]


def test_dutch_number_conventions() -> None:
    f = Formatter(lang="nl", min_cell=10)
    assert f.num(12345.6789) == "12.345,679"
    assert f.num(-0.0123) == "-0,012"
    assert f.pct(0.1234) == "12,3%"
    assert f.p(0.0004) == "< 0,001"
    assert f.p(0.0312) == "0,031"
    assert f.count(24398) == "24.398"
    assert f.count(None) == "×"
    assert f.ci(-0.0123, 0.2) == "[-0,012; 0,200]"
    assert f.num(None) == "–"


def test_english_number_conventions() -> None:
    f = Formatter(lang="en", min_cell=5)
    assert f.num(12345.6789) == "12,345.679"
    assert f.p(0.0004) == "< 0.001"
    assert f.count(None) == "×"
    assert f.ci(-0.0123, 0.2) == "[-0.012, 0.200]"


@pytest.fixture(scope="module")
def results() -> dict[str, object]:
    inputs = prepare_inputs(
        ROOT / "analysis_plans" / "breed-werven-2024.yaml", ROOT / "data" / "synthetic", False
    )
    return evaluate(inputs).as_mapping()


@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_renders_every_section(results: dict[str, object], lang: str, fmt: str) -> None:
    text = render(
        Results.model_validate(results), lang, fmt, "pilot-eval run plan.yaml --data d --out o"
    )  # type: ignore[arg-type]
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
    text = render(Results.model_validate(results), "nl", "html", "cmd")  # type: ignore[arg-type]
    assert "<style>" in text
    assert "http://" not in text.replace("http://www.w3.org", "")
    assert "<link" not in text
    assert "<script src" not in text


def test_a_missing_field_is_caught_not_rendered_blank(results: dict[str, object]) -> None:
    broken = json.loads(json.dumps(results))
    del broken["data"]["n_vacancies"]
    with pytest.raises(pydantic.ValidationError, match="n_vacancies"):
        Results.model_validate(broken)
    # and a template that asks for a field no record has fails loudly
    record = Results.model_validate(results)
    template = "{{ r.data.n_vacancy }}"
    with pytest.raises(jinja2.UndefinedError):
        environment("md").from_string(template).render(r=record)


def test_html_escapes_plan_text(results: dict[str, object]) -> None:
    changed = json.loads(json.dumps(results))
    changed["plan"]["title"] = "<script>alert(1)</script>"
    text = render(Results.model_validate(changed), "nl", "html", "cmd")
    assert "<script>alert(1)</script>" not in text
    assert "&lt;script&gt;" in text


def test_pdf_unavailable_names_a_missing_weasyprint(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pilot_eval.report.render import pdf_unavailable

    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import raises ImportError
    reason = pdf_unavailable()
    assert reason is not None
    assert reason.startswith("WeasyPrint is not installed")
    assert "pip install 'pilot-eval[pdf]'" in reason


def test_pdf_unavailable_names_missing_system_libraries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from pilot_eval.errors import OutputError
    from pilot_eval.report.render import pdf_bytes, pdf_unavailable

    # a WeasyPrint whose import fails as it does where Pango is missing
    fake = tmp_path / "weasyprint"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "raise OSError(\"cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open "
        'shared object file: No such file or directory\\nmore detail")\n',
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    reason = pdf_unavailable()
    assert reason is not None
    assert reason.startswith("WeasyPrint cannot load its system libraries (cannot load library")
    assert "more detail" not in reason  # one line
    with pytest.raises(OutputError, match="Cannot write the PDF report"):
        pdf_bytes("<p>x</p>")


def test_templates_come_from_the_package_or_a_folder_of_ones_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil
    from importlib import resources

    from pilot_eval.report.render import TEMPLATES_VARIABLE, templates_dir

    monkeypatch.delenv(TEMPLATES_VARIABLE, raising=False)
    packaged = templates_dir()
    assert packaged == resources.files("pilot_eval.report") / "templates"
    assert (packaged / "report.html.j2").is_file()
    results = json.loads((EXAMPLE_RESULTS).read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}
    own = tmp_path / "house-style"
    shutil.copytree(str(packaged), own)
    template = own / "report.md.j2"
    template.write_text("Huisstijl\n" + template.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv(TEMPLATES_VARIABLE, str(own))
    assert templates_dir() == own
    assert render(Results.model_validate(results), "nl", "md", "cmd").startswith("Huisstijl")
    monkeypatch.delenv(TEMPLATES_VARIABLE)
    assert not render(Results.model_validate(results), "nl", "md", "cmd").startswith("Huisstijl")


@pytest.mark.parametrize(("lang", "word"), [("nl", "nadelig"), ("en", "harmful")])
def test_harm_is_never_shown_as_a_met_criterion(lang: str, word: str) -> None:
    results = json.loads((EXAMPLE_RESULTS).read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}
    h1 = results["hypotheses"][0]
    h1.update(verdict="not_met", harm=True)
    html = render(Results.model_validate(results), lang, "html", "cmd")  # type: ignore[arg-type]
    md = render(Results.model_validate(results), lang, "md", "cmd")  # type: ignore[arg-type]
    assert '<li class="verdict-line-harm">' in html
    assert '<td class="harm">' in html
    assert word in html
    assert '<td class="verdict-met">' not in html.split("<strong>H1</strong>")[1].split("</tr>")[0]
    assert f"· {word}" in md
    # a hypothesis with a margin shown: its own verdict words, not 'criterion met'
    h9 = next(h for h in results["hypotheses"] if h["id"] == "H9")
    h9.update(verdict="non_inferior", harm=False)
    text = render(Results.model_validate(results), lang, "md", "cmd")  # type: ignore[arg-type]
    expected = "geen nadeel groter dan de marge" if lang == "nl" else "no disadvantage larger"
    assert expected in text


HOSTILE = (
    "<script>alert(1)</script> [klik](javascript:alert(1)) ![x](http://e.x/t.png) a | b\nregel"
)


def test_markdown_escape_by_hand() -> None:
    from pilot_eval.report.render import markdown_escape

    assert markdown_escape("lpm_fe") == "lpm_fe"  # inside a word: no emphasis
    assert markdown_escape("_nadruk_ *vet*") == "\\_nadruk\\_ \\*vet\\*"
    assert markdown_escape("<b>&") == "\\<b\\>&amp;"
    assert markdown_escape("a | b\nc") == "a \\| b c"
    assert markdown_escape("[x](javascript:y)") == "\\[x\\](javascript:y)"


def test_texts_of_the_plan_and_the_data_cannot_inject_markup(results: dict[str, object]) -> None:
    hostile = json.loads(json.dumps(results))
    hostile["plan"]["title"] = HOSTILE
    hostile["plan"]["description"] = HOSTILE
    for d in hostile["plan"]["deviations"]:
        d["what"] = d["why"] = HOSTILE
    md = render(
        Results.model_validate(hostile), "nl", "md", "pilot-eval run plan.yaml --data d --out o"
    )  # type: ignore[arg-type]
    html = render(
        Results.model_validate(hostile), "nl", "html", "pilot-eval run plan.yaml --data d --out o"
    )  # type: ignore[arg-type]
    for text in (md, html):
        assert "<script>" not in text
    assert 'href="javascript' not in html
    # a Markdown link or image needs an unescaped "](" or "!["
    assert not re.search(r"(?<!\\)\]\(javascript:", md)
    assert not re.search(r"(?<!\\)!(?<!\\)\[x", md)
    # shown, as text: the title and each deviation's what and why
    assert md.count("\\<script\\>") >= 1 + 2 * len(hostile["plan"]["deviations"])
    # the line break in a text does not split a table row
    assert "a \\| b regel" in md


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_withheld_training_cell_and_an_unreported_year_look_different(fmt: str) -> None:
    """'–' is a cell withheld for privacy; a department-year without a report says so."""
    results = json.loads(EXAMPLE_RESULTS.read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}
    training = results["evidence"]["committee_training"]
    gone = training["by_department"].pop(0)
    training["missing"] = [{"department": gone["department"], "year": gone["year"]}]
    report = render(Results.model_validate(results), "nl", fmt, "cmd")  # type: ignore[arg-type]
    assert "niet gemeld" in report
    assert "–: weggelaten, omdat het op te weinig personen rust" in report
