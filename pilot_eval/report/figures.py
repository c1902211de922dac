"""Figures of the report, drawn from results.json with matplotlib as SVG text.

Formatting only: every number plotted is in results.json already (protected counts,
published rates, estimates and intervals); nothing is computed here but positions.
The SVG is deterministic (fixed hash salt, no date) so reports are byte-stable, keeps its
text as text (searchable, readable by screen readers), and uses the Okabe-Ito palette,
which stays distinct for colour-blind readers.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np

from pilot_eval.analysis.records import Results

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

OKABE_ITO = {"focal": "#D55E00", "reference": "#0072B2", "other": "#999999"}
"""Colours of the sides of a group (vermillion, blue, grey)."""

ARM_STYLES = ("-", "--", ":", "-.")
"""Line styles of the arms, in the plan's order."""

STAGES = ("applied", "invited", "interviewed", "offered", "hired")


@dataclass(frozen=True)
class ReportFigure:
    """A figure with what a reader without sight of it needs.

    Attributes
    ----------
    name:
        File stem (``funnel-origin``).
    svg:
        The figure as SVG text.
    caption:
        The caption shown under it.
    alt:
        Alternative text describing what it shows.
    """

    name: str
    svg: str
    caption: str
    alt: str


def _svg(fig: Figure, name: str) -> str:
    buffer = io.StringIO()
    with plt.rc_context({"svg.hashsalt": "pilot-eval", "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    # the XML declaration and doctype do not belong inside an HTML page
    text = text[text.index("<svg") :]
    # several figures share one page: make every id unique to its figure
    text = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{name}-\1"', text)
    return re.sub(r"url\(#([^)]+)\)", rf"url(#{name}-\1)", text)


def _label(value: str, t: Mapping[str, Any]) -> str:
    labels: Mapping[str, str] = t.get("labels", {})
    return str(labels.get(value, value))


def _group_figure(
    fig: Figure, ax: Any, kind: str, group: str, column: str, t: Mapping[str, Any]
) -> ReportFigure:
    """Legend, title, caption and alt text of a figure about one group (funnel, impact)."""
    words = t["figures"]
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"{words[kind + '_title']}: {_label(column, t)}", fontsize=11)
    caption = words[kind + "_caption"].replace("{group}", _label(column, t))
    alt = words[kind + "_alt"].replace("{group}", _label(column, t))
    name = f"{kind}-{group}"
    return ReportFigure(name, _svg(fig, name), caption, alt)


def funnel(
    results: Results, group: str, t: Mapping[str, Any], num: Callable[[float], str]
) -> ReportFigure:
    """Share of applicants reaching each stage, per arm (line style) and side (colour)."""
    data = results.descriptives.funnel[group]
    fig, ax = plt.subplots(figsize=(7.0, 3.8))
    labels = [t["stages"][s] for s in STAGES]
    values = {"focal": data.focal, "reference": data.reference}
    for i, (arm, per_arm) in enumerate(data.arms.items()):
        for side in ("focal", "reference"):
            shares = per_arm.sides[side].share_of_applicants
            y = [share * 100 if (share := shares[s]) is not None else float("nan") for s in STAGES]
            ax.plot(
                labels,
                y,
                ARM_STYLES[i % len(ARM_STYLES)],
                marker="o",
                color=OKABE_ITO[side],
                label=f"{_label(arm, t)}: {t['figures'][side]} "
                f"({'/'.join(_label(v, t) for v in values[side])})",
            )
    ax.set_yscale("log")
    ax.set_ylabel(t["figures"]["share_reaching"])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: num(v) + "%"))
    ax.grid(True, which="major", axis="y", color="#dddddd")
    return _group_figure(fig, ax, "funnel", group, data.column, t)


def impact_ratios(
    results: Results, group: str, t: Mapping[str, Any], num: Callable[[float], str]
) -> ReportFigure:
    """Impact ratio of every stage transition per arm, with the four-fifths line."""
    data = results.descriptives.funnel[group]
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    transitions = STAGES[1:]
    arms = list(data.arms)
    width = 0.8 / max(1, len(arms))
    for i, arm in enumerate(arms):
        ratios = data.arms[arm].impact_ratio
        xs = [j + (i - (len(arms) - 1) / 2) * width for j in range(len(transitions))]
        ys = [ratio if (ratio := ratios[s]) is not None else 0.0 for s in transitions]
        bars = ax.bar(
            xs,
            ys,
            width=width * 0.9,
            label=arm,
            color=("#56B4E9", "#E69F00", "#009E73", "#CC79A7")[i % 4],
        )
        for bar, s in zip(bars, transitions, strict=True):
            if ratios[s] is None:
                ax.annotate("–", (bar.get_x() + bar.get_width() / 2, 0.02), ha="center", fontsize=8)
    ax.axhline(0.8, color="#000000", linestyle="--", linewidth=1)
    ax.annotate(t["figures"]["four_fifths"], (len(transitions) - 0.5, 0.81), ha="right", fontsize=8)
    ax.axhline(1.0, color="#666666", linewidth=0.8)
    ax.set_xticks(range(len(transitions)))
    ax.set_xticklabels([t["stages"][s] for s in transitions])
    ax.set_ylabel(t["figures"]["impact_ratio"])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: num(v)))
    return _group_figure(fig, ax, "impact", group, data.column, t)


def forest(results: Results, t: Mapping[str, Any], num: Callable[[float], str]) -> ReportFigure:
    """Every hypothesis' deciding estimate with its interval, one panel per scale."""
    decided = [
        {
            "id": h.id,
            "scale": h.decision.scale,
            "estimate": h.decision.estimate,
            "ci_low": h.decision.ci_low,
            "ci_high": h.decision.ci_high,
            "verdict": h.verdict,
            "harm": bool(h.harm or h.group_disadvantaged),
        }
        for h in results.hypotheses
    ]
    rows = [h for h in decided if h["estimate"] is not None]
    scales = [
        s
        for s in ("difference", "odds_ratio", "ratio", "smd")
        if any(h["scale"] == s for h in rows)
    ]
    fig, axes = plt.subplots(
        len(scales) or 1,
        1,
        figsize=(7.0, 1.0 + 0.45 * max(1, len(rows))),
        squeeze=False,
        gridspec_kw={
            "height_ratios": [max(1, sum(h["scale"] == s for h in rows)) for s in scales] or [1]
        },
    )
    for ax, scale in zip(axes[:, 0], scales, strict=False):
        subset = [h for h in rows if h["scale"] == scale]
        null = 0.0 if scale in ("difference", "smd") else 1.0
        for y, h in enumerate(reversed(subset)):
            # harm and a confirmed disadvantage in vermilion, met in blue (Okabe-Ito), the
            # rest grey
            colour = (
                "#D55E00" if h.get("harm") else "#0072B2" if h["verdict"] == "met" else "#555555"
            )
            low = h["ci_low"] if h["ci_low"] is not None else h["estimate"]
            high = h["ci_high"] if h["ci_high"] is not None else h["estimate"]
            ax.plot([low, high], [y, y], color=colour, linewidth=2)
            ax.plot([h["estimate"]], [y], "o", color=colour)
        ax.axvline(null, color="#000000", linewidth=0.8)
        if scale in ("odds_ratio", "ratio"):
            ax.set_xscale("log")
        ax.set_yticks(range(len(subset)))
        ax.set_yticklabels([h["id"] for h in reversed(subset)])
        # a difference of rates in percentage points, as the report's text gives it
        factor = 100.0 if scale == "difference" else 1.0
        unit = f" ({t['summary']['points']})" if scale == "difference" else ""
        ax.set_xlabel(t["scales"][scale] + unit)
        ticks = _ticks([_scaled(h, factor) for h in subset], null)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([v / factor for v in ticks]))
        ax.xaxis.set_major_formatter(
            matplotlib.ticker.FuncFormatter(lambda v, _, f=factor: num(v * f))
        )
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    fig.suptitle(t["figures"]["forest_title"], fontsize=11)
    fig.tight_layout()
    caption, alt = t["figures"]["forest_caption"], t["figures"]["forest_alt"]
    return ReportFigure("forest", _svg(fig, "forest"), caption, alt)


def _scaled(h: Mapping[str, Any], factor: float) -> dict[str, Any]:
    return {k: None if h[k] is None else h[k] * factor for k in ("ci_low", "ci_high", "estimate")}


def _ticks(rows: Sequence[Mapping[str, Any]], null: float) -> list[float]:
    """Ticks of a forest panel: no effect and four values from the lowest to the highest end
    of the intervals, so that every panel has a scale a reader can read off."""
    ends = [null]
    for h in rows:
        ends += [v for v in (h["ci_low"], h["ci_high"], h["estimate"]) if v is not None]
    low, high = min(ends), max(ends)
    width = high - low
    digits = 0 if width >= 5 else 1 if width >= 0.5 else 2 if width >= 0.05 else 3
    near = width / 8  # a tick this close to no effect would overprint it
    spread = {round(float(v), digits) for v in np.linspace(low, high, 4)}
    return sorted({v for v in spread if abs(v - null) > near} | {null})


EVIDENCE_FIGURES = ("training-trend",)
"""Figures shown in the section on the other evidence rather than with the results."""


def training_trend(
    results: Results, t: Mapping[str, Any], num: Callable[[float], str]
) -> ReportFigure | None:
    """Compliance with the bias workshop per year: all departments (bold) and each
    department (thin grey); suppressed compliances are gaps."""
    data = results.evidence.committee_training
    if not data:
        return None
    words = t["evidence"]
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    years = data.years
    for dept in data.departments:
        by_year = {r.year: r.compliance for r in data.by_department if r.department == dept}
        y = [by_year.get(year) for year in years]
        ax.plot(
            years,
            [v * 100 if v is not None else float("nan") for v in y],
            color="#bbbbbb",
            linewidth=0.8,
        )
    overall = [r.compliance for r in data.overall]
    ax.plot(
        years,
        [v * 100 if v is not None else float("nan") for v in overall],
        color="#0072B2",
        linewidth=2.5,
        marker="o",
        label=words["training_all"],
    )
    ax.plot([], [], color="#bbbbbb", linewidth=0.8, label=words["training_department"])
    ax.set_ylim(0, 100)
    ax.set_xticks(years)
    ax.set_xticklabels([str(y) for y in years])
    ax.set_ylabel(words["training_axis"])
    # whole percentages need no decimal separator in either language
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.0f}%"))
    ax.grid(True, axis="y", color="#dddddd")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_title(words["training_title"], fontsize=11)
    name = "training-trend"
    return ReportFigure(name, _svg(fig, name), words["training_caption"], words["training_alt"])


def report_figures(
    results: Results, t: Mapping[str, Any], num: Callable[[float], str]
) -> list[ReportFigure]:
    """Every figure of the report, in order: funnels and impact ratios per group, forest,
    and the training trend when the results have it."""
    figures = []
    for group in results.descriptives.funnel:
        figures.append(funnel(results, group, t, num))
        figures.append(impact_ratios(results, group, t, num))
    figures.append(forest(results, t, num))
    trend = training_trend(results, t, num)
    if trend is not None:
        figures.append(trend)
    return figures
