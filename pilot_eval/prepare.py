"""From validated tables to the analysis frame and the sample of each comparison.

Pure functions: nothing here reads files or computes a statistic. Every application that a
comparison does not use is counted in that comparison's exclusion ledger with its reason,
so that used + excluded = all applications, always.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pilot_eval.bundle import Bundle
from pilot_eval.plan import BETWEEN_ARMS, STAGES, AnalysisPlan, Group, Hypothesis

VACANCY_KEYS = ("arm", "department", "function_family", "salary_scale")


def analysis_frame(bundle: Bundle, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per application, with the vacancy's arm and the columns the plan names.

    Adds ``stage`` (0 = applied ... 4 = hired) and, per stage, a boolean ``reached_<stage>``.
    """
    apps = bundle.applications
    vac_cols = ["vacancy_id", *dict.fromkeys((*VACANCY_KEYS, *plan.vacancy_columns()))]
    vac_cols = [c for c in vac_cols if c in bundle.vacancies]
    frame = apps.merge(bundle.vacancies[vac_cols], on="vacancy_id", how="left", validate="m:1")
    frame["stage"] = frame["stage_reached"].cat.codes.astype("int8")
    for i, stage in enumerate(STAGES):
        frame[f"reached_{stage}"] = frame["stage"] >= i
    return frame


def group_values(frame: pd.DataFrame, group: Group) -> pd.Series:
    """The group column as text (booleans as ``true``/``false``), missing where unknown."""
    col = frame[group.column]
    if isinstance(col.dtype, pd.BooleanDtype):
        return col.map({True: "true", False: "false"}).astype("str")
    if isinstance(col.dtype, pd.CategoricalDtype):
        # through the few categories, not a string per application
        categories = np.asarray(col.cat.categories.astype("str"), dtype=object)
        codes = col.cat.codes.to_numpy()
        text = categories[np.maximum(codes, 0)]
        text[codes < 0] = None
        return pd.Series(text, index=col.index, dtype=object)
    return col.astype("str")


@dataclass(frozen=True)
class Exclusion:
    """Applications a comparison does not use, and why."""

    reason: str
    rows: int


@dataclass(frozen=True)
class ComparisonSample:
    """The applications one hypothesis analyses.

    Attributes
    ----------
    frame:
        The rows used, with ``focal`` (bool: focal vs reference group) and, for transition
        kinds, ``success`` (bool: reached ``stage.to``).
    exclusions:
        Every application not used, counted by reason, in the order the filters apply.
    n_total:
        All applications of the bundle.
    """

    frame: pd.DataFrame
    exclusions: tuple[Exclusion, ...]
    n_total: int


def comparison_sample(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> ComparisonSample:
    """Select the applications hypothesis ``h`` compares, counting each one left out."""
    group = plan.groups[h.group]
    exclusions: list[Exclusion] = []
    keep = np.ones(len(frame), dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        nonlocal keep
        hit = keep & mask
        if hit.any():
            exclusions.append(Exclusion(reason, int(hit.sum())))
        keep = keep & ~mask

    arms = analysed_arms(plan, h)
    drop(
        ~frame["arm"].isin(arms).to_numpy(),
        f"vacancy in another arm than {' or '.join(arms)}",
    )
    if h.stage is not None:
        drop(
            ~frame[f"reached_{h.stage.from_}"].to_numpy(),
            f"did not reach stage '{h.stage.from_}'",
        )
    values = group_values(frame, group)
    drop(values.isna().to_numpy(), f"{group.column} not reported")
    focal = values.isin(group.focal).to_numpy()
    reference = values.isin(group.reference).to_numpy()
    if h.kind != "pool_share":
        # a pool share is the focal share among all applicants whose value is known
        drop(~(focal | reference), f"{group.column} neither focal nor reference")
    if h.score is not None:
        drop(frame[h.score].isna().to_numpy(), f"{h.score} missing")
    used = frame.loc[keep].copy()
    used["focal"] = focal[keep]
    if h.stage is not None:
        used["success"] = used[f"reached_{h.stage.to}"].to_numpy()
    return ComparisonSample(frame=used, exclusions=tuple(exclusions), n_total=len(frame))


def analysed_arms(plan: AnalysisPlan, h: Hypothesis) -> tuple[str, ...]:
    """The arms hypothesis ``h`` uses: the reference arm and ``h.arm`` for comparisons
    between arms, the one arm analysed otherwise."""
    if h.kind in BETWEEN_ARMS:
        return (plan.reference_arm, plan.arm_of(h))
    return (plan.arm_of(h),)


def fill_missing_group(frame: pd.DataFrame, group: Group, side: str) -> pd.DataFrame:
    """A copy where an unreported group value counts as the first focal or reference value.

    Used by robustness specifications to bound the effect of missing demographics.
    """
    value = (group.focal if side == "focal" else group.reference)[0]
    col = frame[group.column]
    out = frame.copy()
    if isinstance(col.dtype, pd.BooleanDtype):
        out[group.column] = col.fillna(value == "true")
    elif isinstance(col.dtype, pd.CategoricalDtype):
        out[group.column] = col.fillna(value)
    else:
        out[group.column] = col.astype("str").fillna(value)
    return out
