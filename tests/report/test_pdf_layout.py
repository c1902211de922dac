"""The PDF report laid out as WeasyPrint lays it out: tables fit the page, table headers
break between words and never inside one, and the PDF is tagged (PDF/UA-1) with its
language.

The boxes of the laid-out document are read directly; the text of a header cell's lines is
compared with the words of the cell.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.report.render import pdf_bytes, render
from tests.conftest import needs_pdf
from tests.numbers import EXAMPLE_RESULTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = EXAMPLE_RESULTS


def _boxes(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", None) or []:
        yield from _boxes(child)


def _kind(box: Any) -> str:
    return type(box).__name__


@pytest.fixture(scope="module", params=["nl", "en"])
def laid_out(request: pytest.FixtureRequest) -> tuple[str, Any]:
    from weasyprint import HTML

    results = json.loads(EXAMPLE.read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}
    html = render(Results.model_validate(results), request.param, "html", "cmd")
    return html, HTML(string=html).render()


def _header_breaks(document: Any) -> list[tuple[int, str, str]]:
    """(page, line fragment, header text) of every header line that begins or ends inside a
    word of its cell."""
    found = []
    for number, page in enumerate(document.pages, start=1):
        for box in _boxes(page._page_box):
            if _kind(box) != "TableCellBox" or box.element_tag != "th":
                continue
            text = "".join(box.element.itertext())
            words = set(text.split())
            for line in (b for b in _boxes(box) if _kind(b) == "LineBox"):
                tokens = "".join(t.text for t in _boxes(line) if _kind(t) == "TextBox").split()
                for token in tokens[:1] + tokens[-1:]:
                    if token not in words:
                        found.append((number, token, text))
    return found


def _too_wide(document: Any) -> list[tuple[int, float, float]]:
    found = []
    for number, page in enumerate(document.pages, start=1):
        root = page._page_box
        right = root.content_box_x() + root.width
        for box in _boxes(root):
            if _kind(box) in ("TableBox", "TableWrapperBox"):
                end = box.position_x + box.margin_width()
                if end > right + 1:
                    found.append((number, end, right))
    return found


@needs_pdf
def test_table_headers_break_between_words(laid_out: tuple[str, Any]) -> None:
    _, document = laid_out
    assert _header_breaks(document) == []


@needs_pdf
def test_every_table_fits_the_page(laid_out: tuple[str, Any]) -> None:
    _, document = laid_out
    assert _too_wide(document) == []


@needs_pdf
def test_the_check_sees_a_header_broken_inside_a_word() -> None:
    """A header of one long word in a narrow column must be found."""
    from weasyprint import HTML

    html = (
        "<html lang='nl'><style>@page { size: 60mm 100mm; margin: 5mm }"
        "th { overflow-wrap: anywhere; width: 10mm }</style>"
        "<table><tr><th>Betrouwbaarheidsinterval</th><th>x</th></tr></table></html>"
    )
    broken = _header_breaks(HTML(string=html).render())
    assert broken
    assert all(text == "Betrouwbaarheidsinterval" for _, _, text in broken)


def _inflated(pdf: bytes) -> bytes:
    """The PDF with every compressed stream (object streams too) decompressed after it."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, flags=re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


@needs_pdf
def test_the_pdf_is_tagged_with_its_language(laid_out: tuple[str, Any]) -> None:
    html, _ = laid_out
    data = _inflated(pdf_bytes(html))
    assert b"/StructTreeRoot" in data
    assert b"/MarkInfo" in data
    lang = b"/Lang (nl)" if 'lang="nl"' in html else b"/Lang (en)"
    assert lang in data


def _pages_of(document: Any, css_class: str) -> set[int]:
    """The pages on which a table of ``css_class`` is laid out."""
    pages = set()
    for number, page in enumerate(document.pages, start=1):
        for box in _boxes(page._page_box):
            element = getattr(box, "element", None)
            classes = (element.get("class") or "").split() if element is not None else []
            if _kind(box) == "TableBox" and css_class in classes:
                pages.add(number)
    return pages


@needs_pdf
def test_the_summary_of_answers_fits_on_the_first_page(laid_out: tuple[str, Any]) -> None:
    """The executive summary is one page: its table starts and ends on page 1."""
    _, document = laid_out
    assert _pages_of(document, "answers") == {1}
