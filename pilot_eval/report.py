"""Rendering the report from results.json with Jinja.

Formatting only: the report reads the results and never computes a statistic. One set of
templates serves every language; words come from the message catalogues in
``templates/i18n/<lang>.yaml`` and numbers are formatted with Babel in the language's
conventions (Dutch: decimal comma, thousands dot, "p < 0,001").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from babel.numbers import format_decimal, format_percent

from pilot_eval.errors import OutputError
from pilot_eval.figures import EVIDENCE_FIGURES, ReportFigure, report_figures

Lang = Literal["nl", "en"]
LANGUAGES: tuple[Lang, ...] = ("nl", "en")
LOCALES: Mapping[Lang, str] = {"nl": "nl_NL", "en": "en_GB"}
FORMATS = ("html", "md")


def templates_dir() -> Path:
    """The templates folder: ``$PILOT_EVAL_TEMPLATES`` or ``templates/`` of the project."""
    configured = os.environ.get("PILOT_EVAL_TEMPLATES")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class Formatter:
    """Number formatting in one language's conventions."""

    lang: Lang
    min_cell: int

    @property
    def locale(self) -> str:
        """The Babel locale."""
        return LOCALES[self.lang]

    def num(self, value: float | None, digits: int = 3) -> str:
        """A decimal number with ``digits`` decimals; a dash when missing."""
        if value is None:
            return "–"
        if round(value, digits) == 0:
            value = 0.0  # "-0,0" would suggest a direction that the rounding hides
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def count(self, value: int | None) -> str:
        """A count; a suppressed count (None) shows as "< min_cell"."""
        if value is None:
            return f"< {self.min_cell}"
        return format_decimal(value, format="#,##0", locale=self.locale)

    def pct(self, value: float | None) -> str:
        """A share as a percentage with one decimal."""
        if value is None:
            return "–"
        return format_percent(value, format="#,##0.0%", locale=self.locale)

    def p(self, value: float | None) -> str:
        """A p-value: three decimals, or "< 0,001"."""
        if value is None:
            return "–"
        if value < 0.001:
            return "< " + self.num(0.001)
        return self.num(value)

    def ci(self, low: float | None, high: float | None, digits: int = 3) -> str:
        """A confidence interval "[low; high]" (Dutch) or "[low, high]" (English)."""
        if low is None or high is None:
            return "–"
        sep = "; " if self.lang == "nl" else ", "
        return f"[{self.num(low, digits)}{sep}{self.num(high, digits)}]"

    def short(self, value: float) -> str:
        """A tick label: as few decimals as the size of the number needs."""
        digits = 0 if abs(value) >= 10 else 1 if abs(value) >= 1 else 2
        return self.num(value, digits)

    def filters(self) -> dict[str, Callable[..., str]]:
        """The Jinja filters."""
        return {"num": self.num, "count": self.count, "pct": self.pct, "p": self.p}


def load_messages(lang: Lang, folder: Path | None = None) -> dict[str, Any]:
    """The message catalogue of a language."""
    path = (folder or templates_dir()) / "i18n" / f"{lang}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a message catalogue")
    return data


def environment(fmt: str, folder: Path | None = None) -> jinja2.Environment:
    """A strict Jinja environment; HTML output is autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder or templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=fmt == "html",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def formatter_for(results: Mapping[str, Any], lang: Lang) -> Formatter:
    """The number formatter of a report of ``results`` in ``lang``."""
    return Formatter(lang=lang, min_cell=int(results["plan"]["disclosure"]["min_cell"]))


def figures_for(
    results: Mapping[str, Any], lang: Lang, folder: Path | None = None
) -> list[ReportFigure]:
    """The report's figures in ``lang``."""
    return report_figures(results, load_messages(lang, folder), formatter_for(results, lang).short)


def render(
    results: Mapping[str, Any],
    lang: Lang,
    fmt: str,
    command: str,
    folder: Path | None = None,
    figures: Sequence[ReportFigure] = (),
    template: str = "report",
) -> str:
    """Render the report of ``results`` in ``lang`` as ``fmt`` (``html`` or ``md``).

    ``command`` is the command line, with relative paths, that re-runs the evaluation.
    ``figures`` are inlined in HTML and linked as ``figures/<name>.svg`` in Markdown.
    ``template`` names the report: ``report`` (the evaluation, from results.json) or
    ``export`` (the open-data export, from disclosure.json).
    """
    env = environment(fmt, folder)
    formatter = formatter_for(results, lang)
    env.filters.update(formatter.filters())
    env.globals["ci"] = formatter.ci
    env.globals["evidence_figures"] = EVIDENCE_FIGURES
    css = (folder or templates_dir()) / "report.css"
    return env.get_template(f"{template}.{fmt}.j2").render(
        r=results,
        t=load_messages(lang, folder),
        lang=lang,
        command=command,
        figures={f.name: f for f in figures},
        css=css.read_text(encoding="utf-8") if fmt == "html" else "",
    )


def pdf_bytes(html: str) -> bytes:
    """The PDF of a rendered HTML report (WeasyPrint), with fixed metadata so that the same
    report gives the same bytes.

    Raises
    ------
    OutputError
        When WeasyPrint or its system libraries (Pango) are missing; ``make`` installs them.
    """
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:
        raise OutputError(
            "Cannot write the PDF report: WeasyPrint or its system libraries (Pango) are "
            f"missing ({exc}). 'make report' installs them; see README.md."
        ) from None
    document = HTML(string=html, base_url=None)
    data: bytes = document.write_pdf(pdf_identifier=b"pilot-eval", uncompressed_pdf=False)
    return data
