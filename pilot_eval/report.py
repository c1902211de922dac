"""Rendering the report from results.json with Jinja.

Formatting only: the report reads the results and never computes a statistic. One set of
templates serves every language; words come from the message catalogues in
``templates/i18n/<lang>.yaml`` and numbers are formatted with Babel in the language's
conventions (Dutch: decimal comma, thousands dot, "p < 0,001").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml
from babel.numbers import format_decimal, format_percent

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


def render(
    results: Mapping[str, Any],
    lang: Lang,
    fmt: str,
    command: str,
    folder: Path | None = None,
) -> str:
    """Render the report of ``results`` in ``lang`` as ``fmt`` (``html`` or ``md``).

    ``command`` is the command line, with relative paths, that re-runs the evaluation.
    """
    env = environment(fmt, folder)
    formatter = Formatter(lang=lang, min_cell=int(results["descriptives"]["min_cell"]))
    env.filters.update(formatter.filters())
    env.globals["ci"] = formatter.ci
    template = env.get_template(f"report.{fmt}.j2")
    css = (folder or templates_dir()) / "report.css"
    return template.render(
        r=results,
        t=load_messages(lang, folder),
        lang=lang,
        command=command,
        css=css.read_text(encoding="utf-8") if fmt == "html" else "",
    )
