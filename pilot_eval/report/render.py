"""Rendering the report from results.json with Jinja.

Formatting only: the report reads the results and never computes a statistic. One set of
templates serves every language; words come from the message catalogues in
``pilot_eval/report/templates/i18n/<lang>.yaml`` and numbers are formatted with Babel in the
language's conventions (Dutch: decimal comma, thousands dot, "p < 0,001").
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar, Literal

import jinja2
import yaml
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent
from markupsafe import Markup
from pydantic import BaseModel

from pilot_eval.analysis.records import Results
from pilot_eval.errors import OutputError
from pilot_eval.report.answers import answers, criterion_words
from pilot_eval.report.figures import EVIDENCE_FIGURES, ReportFigure, report_figures

Lang = Literal["nl", "en"]
LANGUAGES: tuple[Lang, ...] = ("nl", "en")
LOCALES: Mapping[Lang, str] = {"nl": "nl_NL", "en": "en_GB"}
FORMATS = ("html", "md")


TEMPLATES_VARIABLE = "PILOT_EVAL_TEMPLATES"
"""Environment variable naming a folder of templates to use instead of the package's own
(an organisation's house style); it must hold every template and both catalogues."""


def templates_dir() -> Traversable:
    """The templates: the folder named by ``$PILOT_EVAL_TEMPLATES``, else the package's own
    ``pilot_eval/report/templates`` (read with :mod:`importlib.resources`, so it works from a
    wheel).

    Raises
    ------
    OutputError
        When ``$PILOT_EVAL_TEMPLATES`` names a folder that lacks a template or catalogue of
        the package's own.
    """
    packaged = resources.files("pilot_eval.report") / "templates"
    configured = os.environ.get(TEMPLATES_VARIABLE)
    if not configured:
        return packaged
    folder = Path(configured)
    missing = [name for name in _names(packaged) if not (folder / name).is_file()]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise OutputError(
            f"{TEMPLATES_VARIABLE}={configured}: the folder lacks {shown}. Copy the package's "
            "templates (pilot_eval/report/templates) and change the copy, or unset the variable."
        )
    return folder


def _names(root: Traversable, prefix: str = "") -> list[str]:
    """Relative names of the files below ``root``."""
    names: list[str] = []
    for node in sorted(root.iterdir(), key=lambda n: n.name):
        if node.is_dir():
            names.extend(_names(node, f"{prefix}{node.name}/"))
        elif not node.name.startswith((".", "__")):
            names.append(prefix + node.name)
    return names


class _TraversableLoader(jinja2.BaseLoader):
    """Jinja loader reading templates from a :class:`Traversable` (a folder or package data)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        node = self.root
        for part in template.split("/"):
            node = node / part
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), None, lambda: True


SUPPRESSED = "×"
"""How a count that is not published shows in the reports."""


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

    def day(self, iso: str) -> str:
        """A date in words: "1 september 2023" (Dutch), "1 September 2023" (English)."""
        return format_date(date.fromisoformat(iso), format="long", locale=self.locale)

    def count(self, value: int | None) -> str:
        """A count; a suppressed count (None) shows as "×" (Statistics Netherlands' mark for
        a confidential cell). Not "< min_cell": a cell hidden to protect a smaller one is
        often large."""
        if value is None:
            return SUPPRESSED
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
        """A tick label: no decimals from 10 on, else up to two (1 | 1,06 | 0,86), so that
        two ticks never read the same."""
        if abs(value) >= 10:
            return self.num(value, 0)
        if round(value, 2) == 0:
            value = 0.0
        return format_decimal(value, format="#,##0.##", locale=self.locale)

    def filters(self) -> dict[str, Callable[..., str]]:
        """The Jinja filters."""
        return {"num": self.num, "count": self.count, "pct": self.pct, "p": self.p, "day": self.day}


def load_messages(lang: Lang, folder: Traversable | None = None) -> dict[str, Any]:
    """The message catalogue of a language."""
    path = (folder or templates_dir()) / "i18n" / f"{lang}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"i18n/{lang}.yaml is not a message catalogue")
    return data


_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]<>|{}#!])|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def markdown_escape(text: str) -> str:
    """``text`` as literal Markdown: line breaks become spaces (a table row stays one row),
    ``&`` an entity, and every character that could start markup, a link, an image, raw
    HTML or a table cell is escaped with a backslash (an underscore inside a word is left:
    it starts no emphasis)."""
    flat = " ".join(text.splitlines()).replace("&", "&amp;")
    return _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


class MarkdownText(Markup):
    """Text that is already safe Markdown: the catalogues' messages, formatted numbers and
    the template's own output. Anything else put into it (by ``replace``, ``+`` or
    ``format``) is escaped as Markdown, not as HTML."""

    __slots__ = ()

    @classmethod
    def escape(cls, s: Any) -> MarkdownText:
        if hasattr(s, "__html__"):
            return cls(s.__html__())
        return cls(markdown_escape(str(s)))


def _trusted(value: Any) -> Any:
    """The catalogue with every message marked as safe Markdown."""
    if isinstance(value, str):
        return MarkdownText(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


class Reasons:
    """Why a statistic is missing, in the report's language.

    The reasons in results.json are English sentences. A catalogue (``reasons``: a pattern
    and the text in the report's language, with named groups) translates them; arms,
    columns, stages and scores among the groups are put in words, and ``detail`` (a list of
    ``arm: reason``) is translated part by part. A reason no pattern matches is shown as the
    catalogue's ``reason_fallback`` (Dutch: that the reason is in results.json), or as it is
    where the catalogue has none (English).
    """

    WORDS: ClassVar[Mapping[str, str]] = {
        "arm": "labels",
        "column": "labels",
        "score": "labels",
        "stage": "stages",
    }

    def __init__(self, messages: Mapping[str, Any]) -> None:
        self.messages = messages
        self.patterns = [
            (re.compile(f"^{x['pattern']}$"), x["text"]) for x in messages.get("reasons", ())
        ]

    def _word(self, kind: str, value: str) -> str:
        if kind == "detail":
            parts = (part.partition(": ") for part in value.split("; "))
            return "; ".join(f"{self._word('arm', a)}: {self(r)}" for a, _, r in parts)
        if kind == "arms":
            return " / ".join(self._word("arm", a) for a in value.split(" or "))
        table = self.messages.get(self.WORDS.get(kind, ""), {})
        return str(table.get(value, value))

    def __call__(self, text: str | None) -> str | None:
        if text is None or not self.patterns:
            return text
        for pattern, words in self.patterns:
            found = pattern.match(text)
            if found:
                values = {k: self._word(k, v) for k, v in found.groupdict().items()}
                return str(words).format(**values)
        return str(self.messages.get("reason_fallback", text))


def _as_markdown(function: Callable[..., str]) -> Callable[..., MarkdownText]:
    """A formatting function whose output (a number) is safe Markdown."""
    return lambda *args, **kwargs: MarkdownText(function(*args, **kwargs))


def _finalize_markdown(value: Any) -> Any:
    """Every value a Markdown template prints: text from the plan or the data is escaped."""
    if hasattr(value, "__html__") or not isinstance(value, str):
        return value
    return MarkdownText.escape(value)


def environment(fmt: str, folder: Traversable | None = None) -> jinja2.Environment:
    """A strict Jinja environment. HTML output is escaped as HTML; Markdown output escapes
    every text from the plan or the data as Markdown (``markdown_escape``), so that neither
    raw HTML nor a link can reach the Markdown report from them."""
    markdown = fmt == "md"
    env = jinja2.Environment(
        loader=_TraversableLoader(folder or templates_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize_markdown if markdown else None,
    )
    return env


def formatter_for(results: Results | Mapping[str, Any], lang: Lang) -> Formatter:
    """The number formatter of a report of ``results`` (the record of results.json, or the
    summary of an open-data export) in ``lang``."""
    if isinstance(results, Results):
        return Formatter(lang=lang, min_cell=results.plan.disclosure.min_cell)
    return Formatter(lang=lang, min_cell=int(results["plan"]["disclosure"]["min_cell"]))


def figures_for(
    results: Results, lang: Lang, folder: Traversable | None = None
) -> list[ReportFigure]:
    """The report's figures in ``lang``."""
    return report_figures(results, load_messages(lang, folder), formatter_for(results, lang).short)


def render(
    results: Results | Mapping[str, Any],
    lang: Lang,
    fmt: str,
    command: str,
    folder: Traversable | None = None,
    figures: Sequence[ReportFigure] = (),
    template: str = "report",
) -> str:
    """Render the report of ``results`` in ``lang`` as ``fmt`` (``html`` or ``md``).

    ``command`` is the command line, with relative paths, that re-runs the evaluation.
    ``figures`` are inlined in HTML and linked as ``figures/<name>.svg`` in Markdown.
    ``template`` names the report: ``report`` (the evaluation, from the record of
    results.json) or ``export`` (the open-data export, from disclosure.json).
    """
    env = environment(fmt, folder)
    formatter = formatter_for(results, lang)
    messages: dict[str, Any] = load_messages(lang, folder)
    if fmt == "md":
        # numbers and messages are safe Markdown; the plan's and the data's texts are not
        env.filters.update({k: _as_markdown(f) for k, f in formatter.filters().items()})
        env.globals["ci"] = _as_markdown(formatter.ci)
        messages = _trusted(messages)
    else:
        env.filters.update(formatter.filters())
        env.globals["ci"] = formatter.ci
    reasons = Reasons(messages)
    env.filters["reason"] = reasons
    env.globals["answers"] = lambda r: answers(r, messages, formatter, reasons)
    if isinstance(results, Results):
        record = results
        env.globals["criterion"] = lambda h: criterion_words(
            record, h, messages, formatter, reasons
        )
    env.filters["estimator"] = lambda name: messages.get("estimators", {}).get(name, name)
    env.globals["glossary"] = lambda texts: glossary(messages, texts)
    env.globals["evidence_figures"] = EVIDENCE_FIGURES
    css = (folder or templates_dir()) / "report.css"
    return env.get_template(f"{template}.{fmt}.j2").render(
        r=results,
        t=messages,
        lang=lang,
        command=command,
        figures={f.name: f for f in figures},
        css=css.read_text(encoding="utf-8") if fmt == "html" else "",
    )


TERM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def glossary(messages: Mapping[str, Any], texts: Sequence[Any]) -> list[tuple[str, str]]:
    """The technical names in texts the plan's authors wrote (its deviations), each with its
    words in the report's language: estimators and the plan's own keys. The texts are shown
    as written, since a locked plan's earlier entries cannot change."""
    terms = {**messages.get("plan_terms", {}), **messages.get("estimators", {})}
    words = " ".join(str(v) for text in texts for v in _strings(text))
    found = set(TERM.findall(words))
    return [(k, str(terms[k])) for k in sorted(terms) if k in found]


def _strings(value: Any) -> list[str]:
    if isinstance(value, BaseModel):
        return _strings(value.model_dump())
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def render_outputs(results: Results, lang: Lang, command: str, pdf: bool) -> dict[str, str | bytes]:
    """Every file of an output folder that is made from results.json: the HTML and Markdown
    reports, the figures and, with ``pdf``, the PDF report (file name -> content). ``run``
    writes them and ``verify`` makes them again from the folder's results.json."""
    figures = figures_for(results, lang)
    files: dict[str, str | bytes] = {
        f"report.{lang}.{fmt}": render(results, lang, fmt, command, figures=figures)
        for fmt in ("html", "md")
    }
    files.update({f"figures/{f.name}.svg": f.svg for f in figures})
    if pdf:
        files[f"report.{lang}.pdf"] = pdf_bytes(str(files[f"report.{lang}.html"]))
    return files


SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
FIXED_EPOCH = "315532800"
"""1980-01-01 (seconds since 1970), the time stamped into the fonts of the PDF."""

PDF_INSTALL_HINT = (
    "install it with: pip install 'pilot-eval[pdf]', plus the system libraries Pango and "
    "HarfBuzz (README.md, 'The PDF report')"
)


def pdf_unavailable() -> str | None:
    """Why the PDF report cannot be made here, or None when it can.

    WeasyPrint is the optional extra ``pdf``; it needs the system library Pango, which it
    loads when imported. HarfBuzz-Subset is optional for WeasyPrint (without it the fonts
    are embedded whole): its warning at import is recorded here rather than shown.
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import weasyprint  # noqa: F401
    except ImportError:
        return "WeasyPrint is not installed; " + PDF_INSTALL_HINT
    except OSError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"WeasyPrint cannot load its system libraries ({first}); " + PDF_INSTALL_HINT
    return None


def pdf_bytes(html: str) -> bytes:
    """The PDF of a rendered HTML report (WeasyPrint), with fixed metadata so that the same
    report gives the same bytes.

    Raises
    ------
    OutputError
        When WeasyPrint or its system libraries (Pango) are missing (see
        :func:`pdf_unavailable`).
    """
    reason = pdf_unavailable()
    if reason is not None:
        raise OutputError(f"Cannot write the PDF report: {reason}.")
    from weasyprint import HTML

    document = HTML(string=html, base_url=None)
    # Without HarfBuzz-Subset, WeasyPrint subsets fonts with fontTools, which stamps each
    # font with the time unless SOURCE_DATE_EPOCH fixes it (as reproducible builds do).
    saved = os.environ.get(SOURCE_DATE_EPOCH)
    os.environ[SOURCE_DATE_EPOCH] = FIXED_EPOCH
    try:
        # PDF/UA-1: tagged, with the document's language and title, for screen readers
        data: bytes = document.write_pdf(
            pdf_identifier=b"pilot-eval", uncompressed_pdf=False, pdf_variant="pdf/ua-1"
        )
    finally:
        if saved is None:
            del os.environ[SOURCE_DATE_EPOCH]
        else:
            os.environ[SOURCE_DATE_EPOCH] = saved
    return data
