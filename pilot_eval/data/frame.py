"""From validated tables to the analysis frame and the sample of each comparison.

Pure functions: nothing here reads files or computes a statistic. Every application that a
comparison does not use is counted in that comparison's exclusion ledger with its reason,
so that used + excluded = all applications, always.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pilot_eval.data.bundle import Bundle
from pilot_eval.plan.model import BETWEEN_ARMS, STAGES, AnalysisPlan, Group, Hypothesis

VACANCY_KEYS = ("arm", "department", "function_family", "salary_scale")

WEIGHT = "weight"
"""Optional column of a sample: analysis weight of each application (reweighting)."""


def analysis_frame(bundle: Bundle, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per application, with the vacancy's arm and the columns the plan names.

    The index is the application's row in ``bundle.applications``; the application ids are
    left out (no analysis needs them, and every selection would copy them). Text columns
    become categories. Adds ``stage`` (0 = applied ... 4 = hired) and, per stage, a
    boolean ``reached_<stage>``.
    """
    apps = bundle.applications.drop(columns="application_id", errors="ignore")
    apps = apps.reset_index(drop=True)
    vac = bundle.vacancies
    vac_cols = [c for c in dict.fromkeys((*VACANCY_KEYS, *plan.vacancy_columns())) if c in vac]
    # each application's vacancy row (-1 where unknown): a left join on vacancy_id, done
    # once as positions; vacancy ids are unique (validated)
    ids = pd.Index(vac["vacancy_id"].astype("str"))
    if not ids.is_unique:
        raise ValueError("vacancy_id is not unique in the vacancies table")
    row = ids.get_indexer(pd.Index(apps["vacancy_id"].astype("str")))
    joined = {}
    for col in vac_cols:
        values = vac[col]
        text = pd.api.types.is_string_dtype(values) and not isinstance(
            values.dtype, pd.CategoricalDtype
        )
        if text:  # categories of the values the applications have, as astype would give
            values = values.astype("category")
        taken = pd.Series(
            pd.api.extensions.take(values.array, row, allow_fill=True), index=apps.index
        )
        if text:
            taken = taken.cat.remove_unused_categories()
        joined[col] = taken
    frame = pd.concat([apps, pd.DataFrame(joined, index=apps.index)], axis=1)
    # text columns repeat a few values per vacancy: as categories (sorted, so that every
    # grouping and ordering is the one of the text) each selection copies codes, not text
    for col in frame.columns:
        if pd.api.types.is_string_dtype(frame[col]) and not isinstance(
            frame[col].dtype, pd.CategoricalDtype
        ):
            frame[col] = frame[col].astype("category")
    frame["stage"] = frame["stage_reached"].cat.codes.astype("int8")
    for i, stage in enumerate(STAGES):
        frame[f"reached_{stage}"] = frame["stage"] >= i
    return frame


def _text(col: pd.Series) -> pd.Series:
    """A group column as text (booleans as ``true``/``false``), missing where unknown."""
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


def _in(col: pd.Series, values: tuple[str, ...] | list[str]) -> npt.NDArray[np.bool_]:
    """Whether each value of ``col``, as text, is one of ``values`` (False where missing).

    A categorical column is compared through its few categories, not per application.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        wanted = set(values)
        hit = np.array([str(c) in wanted for c in col.cat.categories], dtype=bool)
        codes = col.cat.codes.to_numpy()
        if not hit.any():  # also a column without categories (every value missing)
            return np.zeros(len(col), dtype=bool)
        return np.where(codes >= 0, hit[np.maximum(codes, 0)], False)
    if isinstance(col.dtype, pd.BooleanDtype):
        known = ~col.isna().to_numpy()
        true = col.to_numpy(dtype=bool, na_value=False)
        hit = np.zeros(len(col), dtype=bool)
        if "true" in values:
            hit |= known & true
        if "false" in values:
            hit |= known & ~true
        return hit
    return np.asarray(_text(col).isin(values), dtype=bool)


def group_masks(
    frame: pd.DataFrame, group: Group
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """(unknown, focal, reference) per application for the group's column."""
    col = frame[group.column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        unknown = col.cat.codes.to_numpy() < 0
    else:
        unknown = col.isna().to_numpy()
    return unknown, _in(col, group.focal), _in(col, group.reference)


@dataclass(frozen=True)
class Exclusion:
    """Applications a comparison does not use, and why.

    ``rule`` names the step that left them out, for a reader that cannot parse ``reason``
    (the disclosure audit, the report's translation): ``other_arm``, ``not_reached``,
    ``not_reported``, ``not_compared`` (neither focal nor reference) or ``score_missing``.
    """

    rule: str
    reason: str
    rows: int

    def as_json(self) -> dict[str, Any]:
        """The exclusion in results form."""
        return {"rule": self.rule, "reason": self.reason, "rows": self.rows}


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

    @cached_property
    def cells(self) -> VacancyCells:
        """The sample's sufficient statistics per vacancy (computed once, on first use)."""
        return vacancy_cells(self.frame)


@dataclass(frozen=True)
class VacancyCells:
    """Per vacancy, the applications of a sample in each cell focal x success.

    With a binary group and a binary outcome, every estimator of the gap kinds (lpm_fe,
    mantel_haenszel, difference_pooled) and randomisation inference depends on the
    applications only through these counts and weight sums: the fits run on at most four
    rows per vacancy instead of one per application, with the same result.

    Attributes
    ----------
    vacancy_ids:
        The sample's vacancies, sorted; shape (G,).
    count:
        Applications by [vacancy, focal (0 reference, 1 focal), success (0 no, 1 yes)];
        shape (G, 2, 2). Without a ``success`` column (pool_share) every application counts
        as success 0.
    weight:
        The sum of the analysis weights (column ``weight``) in each cell, or the counts when
        the sample has no weights.
    first:
        Row position in the sample's frame of each vacancy's first application; vacancy
        columns (arm, block, covariates) are read there.
    """

    vacancy_ids: npt.NDArray[Any]
    count: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    first: npt.NDArray[np.intp]

    @property
    def n_vacancies(self) -> int:
        """G, the number of vacancies."""
        return len(self.vacancy_ids)

    def sizes(self) -> npt.NDArray[np.float64]:
        """Applications per vacancy."""
        sizes: npt.NDArray[np.float64] = self.count.sum(axis=(1, 2)).astype(np.float64)
        return sizes

    def covariates(
        self, frame: pd.DataFrame, columns: tuple[str, ...]
    ) -> tuple[npt.NDArray[np.float64], list[str]]:
        """Vacancy-level covariates of the sample's ``frame`` as regressors, one row per
        vacancy: numbers as they are, anything else as dummies without its first value.
        Returns the matrix (G, k) and the column names."""
        parts: list[npt.NDArray[np.float64]] = []
        names: list[str] = []
        for col in columns:
            values = self.vacancy_column(frame, col)
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                parts.append(np.asarray(values, dtype=np.float64)[:, None])
                names.append(col)
            else:
                dummies = pd.get_dummies(values.astype("str"), prefix=col, drop_first=True)
                parts.append(dummies.to_numpy(dtype=np.float64))
                names.extend(str(c) for c in dummies.columns)
        matrix = np.hstack(parts) if parts else np.empty((self.n_vacancies, 0))
        return matrix, names

    def focal_shares(self) -> npt.NDArray[np.float64]:
        """Share of the focal group among each vacancy's applications."""
        shares: npt.NDArray[np.float64] = self.count[:, 1, :].sum(axis=1) / self.sizes()
        return shares

    def two_by_two(self) -> tuple[int, int, int, int]:
        """Over all vacancies: focal successes and total, reference successes and total."""
        total = self.count.sum(axis=0)  # [focal, success]
        return int(total[1, 1]), int(total[1].sum()), int(total[0, 1]), int(total[0].sum())

    def totals_by(self, frame: pd.DataFrame, column: str) -> dict[str, npt.NDArray[np.int64]]:
        """Applications by [focal, success] for each value of a vacancy column of the
        sample's ``frame`` (e.g. the arm), in order of first appearance."""
        values = np.asarray(self.vacancy_column(frame, column).astype("str"), dtype=object)
        return {str(v): self.count[values == v].sum(axis=0) for v in dict.fromkeys(values)}

    def vacancy_column(self, frame: pd.DataFrame, column: str) -> pd.Series:
        """A vacancy-level column of the sample's ``frame``, one value per vacancy."""
        return frame[column].iloc[self.first].reset_index(drop=True)

    def rows(
        self,
    ) -> tuple[
        npt.NDArray[np.intp],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        """The non-empty cells as rows: (vacancy code, focal, success, count, weight)."""
        v, f, s = np.nonzero(self.count)
        return (
            v.astype(np.intp),
            f.astype(np.float64),
            s.astype(np.float64),
            self.count[v, f, s].astype(np.float64),
            self.weight[v, f, s],
        )


def vacancy_cells(frame: pd.DataFrame) -> VacancyCells:
    """Count the applications of a comparison sample's ``frame`` per vacancy and cell."""
    codes, uniques = pd.factorize(frame["vacancy_id"], sort=True)
    g = len(uniques)
    focal = frame["focal"].to_numpy(dtype=bool)
    success = (
        frame["success"].to_numpy(dtype=bool) if "success" in frame else np.zeros(len(frame), bool)
    )
    index = codes * 4 + focal * 2 + success
    count = np.bincount(index, minlength=4 * g).reshape(g, 2, 2)
    weights = np.asarray(frame[WEIGHT], dtype=np.float64) if WEIGHT in frame else None
    weight: npt.NDArray[np.float64] = (
        np.bincount(index, weights=weights, minlength=4 * g).reshape(g, 2, 2).astype(np.float64)
    )
    _, first = np.unique(codes, return_index=True)
    return VacancyCells(
        vacancy_ids=np.asarray(uniques, dtype=object),
        count=count.astype(np.int64),
        weight=weight,
        first=first.astype(np.intp),
    )


def comparison_sample(frame: pd.DataFrame, plan: AnalysisPlan, h: Hypothesis) -> ComparisonSample:
    """Select the applications hypothesis ``h`` compares, counting each one left out."""
    group = plan.groups[h.group]
    exclusions: list[Exclusion] = []
    keep = np.ones(len(frame), dtype=bool)

    def drop(mask: np.ndarray, rule: str, reason: str) -> None:
        nonlocal keep
        hit = keep & mask
        if hit.any():
            exclusions.append(Exclusion(rule, reason, int(hit.sum())))
        keep = keep & ~mask

    arms = analysed_arms(plan, h)
    drop(~_in(frame["arm"], arms), "other_arm", f"vacancy in another arm than {' or '.join(arms)}")
    if h.stage is not None:
        drop(
            ~frame[f"reached_{h.stage.from_}"].to_numpy(),
            "not_reached",
            f"did not reach stage '{h.stage.from_}'",
        )
    unknown, focal, reference = group_masks(frame, group)
    drop(unknown, "not_reported", f"{group.column} not reported")
    if h.kind != "pool_share":
        # a pool share is the focal share among all applicants whose value is known
        drop(~(focal | reference), "not_compared", f"{group.column} neither focal nor reference")
    if h.score is not None:
        drop(frame[h.score].isna().to_numpy(), "score_missing", f"{h.score} missing")
    used = frame.loc[keep]
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

    Used by robustness specifications (``missing_group``): one way to fill in missing
    demographics, the same in every arm; not a bound (``pilot_eval.analysis.missing_bounds``).
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
