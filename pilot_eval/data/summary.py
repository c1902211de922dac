"""The summary ``pilot-eval validate`` prints: counts per arm, missingness and stages.

This is a check for the evaluator, not a publication: counts are shown unsuppressed.
Validating may happen before the plan is locked, so outcomes are not shown by arm: stage
counts are given for all arms together, which shows whether the data are complete
without showing any comparison the plan will test.
"""

from __future__ import annotations

from pilot_eval.data.bundle import Bundle
from pilot_eval.data.frame import analysis_frame
from pilot_eval.data.tables import DEMOGRAPHICS
from pilot_eval.plan.model import STAGES, AnalysisPlan


def bundle_summary(bundle: Bundle, plan: AnalysisPlan) -> str:
    """A plain-text table per topic, one column per arm."""
    frame = analysis_frame(bundle, plan)
    arms = list(plan.design.arms)
    rows: list[tuple[str, list[str]]] = []
    rows.append(("vacancies", [str(int((bundle.vacancies["arm"] == a).sum())) for a in arms]))
    rows.append(("applications", [str(int((frame["arm"] == a).sum())) for a in arms]))
    rows.append(("", ["" for _ in arms]))
    for col in DEMOGRAPHICS:
        if col in frame:
            shares = frame[col].isna().groupby(frame["arm"]).mean()
            rows.append((f"{col} not reported", [f"{100 * shares.get(a, 0.0):.1f}%" for a in arms]))
    table = _table(["", *arms], rows)
    outcome_rows = [(f"reached {s}", [str(int(frame[f"reached_{s}"].sum()))]) for s in STAGES]
    if "withdrew" in frame:
        outcome_rows.append(("withdrew", [str(int(frame["withdrew"].fillna(False).sum()))]))
    outcomes = _table(["", "all arms"], outcome_rows)
    return f"{table}\n\nStages reached (all arms together, so no comparison is shown):\n{outcomes}"


def _table(header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    body = [[label, *cells] for label, cells in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = []
    for r in [header, *body]:
        first = r[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)
