"""Anonymised microdata that can be published: the open-data export.

The export keeps the tables of the contract and nothing else: no column outside the
contract (free text of applicants never), no exact dates, new identifiers for vacancies,
applications and blocks. Quasi-identifiers (department, function family, salary scale,
managerial, age band, gender, origin, disability, and any the plan adds) are protected so
that every combination of them among the published applications occurs at least
``disclosure.k_anonymity`` times, in three steps (Hundepool et al. 2012, *Statistical
Disclosure Control*, sections 3.4 and 3.6; the approach of sdcMicro's ``globalRecode`` and
``localSuppression``):

1. **Global recoding** of the vacancy attributes. Salary scales are published in bands.
   While some combination of vacancy attributes holds fewer than k applications, the
   rarest value in such a combination is recoded: a department or function family to
   ``other``, a salary band merged with its smaller neighbour, a managerial flag left
   empty. Every recoding applies to the whole table, so the released categories mean the
   same thing in every row.
2. **Local suppression** of the applicant attributes. For applications whose combination
   still occurs fewer than k times, applicant attributes are left empty one after the
   other, least important first: attributes that no group of the plan uses, then the plan's
   group columns from the last-used to the group of the primary hypotheses.
3. **Complementary suppression.** Applications whose applicant attributes are all empty
   but still form a class below k take along the smallest other classes of the same
   vacancy attributes until the class reaches k.

An empty cell counts as a value of its own when classes are formed (a reader cannot tell
a suppressed value from an unreported one), so the guarantee holds for the file as
published. The remaining risk is measured and reported: the smallest class, the
l-diversity of the outcome (distinct stages reached within a class; l = 1 discloses the
outcome of everybody in the class) and how many vacancies are unique on what is published
of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pilot_eval.bundle import Bundle
from pilot_eval.errors import DataValidationError, Problem, problems_message
from pilot_eval.plan import AnalysisPlan
from pilot_eval.schemas import APPLICATION_COLUMNS, VACANCY_COLUMNS
from pilot_eval.weighting import SCALE_BANDS

VACANCY_QUASI_IDENTIFIERS = ("department", "function_family", "salary_scale", "managerial")
APPLICATION_QUASI_IDENTIFIERS = ("age_band", "gender", "origin", "disability")

NOT_PUBLISHED = ("opened_on",)
"""Contract columns left out of the open data: an exact opening date singles out a
vacancy (its public advertisement)."""

OTHER = "other"
"""The published value of recoded departments, function families and extra attributes."""

MISSING = "\x00"
"""Internal stand-in for an empty cell while classes are formed."""

OUTCOME = "stage_reached"
"""The sensitive attribute whose diversity within classes is reported."""

ID_WIDTH = {"vacancy_id": 4, "application_id": 6, "block": 3}
ID_PREFIX = {"vacancy_id": "V", "application_id": "A", "block": "B"}


@dataclass(frozen=True)
class Band:
    """A band of salary scales, ``low`` to ``high`` inclusive."""

    low: int
    high: int

    @property
    def label(self) -> str:
        """``"9-10"``, or ``"9"`` for a band of one scale."""
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


INITIAL_BANDS = tuple(Band(low, high) for low, high, _ in SCALE_BANDS)
"""The bands every export starts from: those of the reweighting profile."""


@dataclass(frozen=True)
class Recoding:
    """One global recoding of a vacancy attribute."""

    column: str
    values: tuple[str, ...]
    to: str | None

    def as_json(self) -> dict[str, Any]:
        """The recoding in results form (``to`` null: left empty)."""
        return {"column": self.column, "from": list(self.values), "to": self.to}


@dataclass
class Protection:
    """What the anonymisation did, and the risk that remains."""

    k: int
    recodings: list[Recoding] = field(default_factory=list)
    bands: tuple[Band, ...] = INITIAL_BANDS
    suppressed: dict[str, int] = field(default_factory=dict)
    missing_before: dict[str, int] = field(default_factory=dict)
    complementary: int = 0
    left_out_columns: tuple[str, ...] = ()
    risk: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The protection in results form."""
        return {
            "k_anonymity": self.k,
            "salary_bands": [b.label for b in self.bands],
            "recodings": [r.as_json() for r in self.recodings],
            "local_suppression": [
                {
                    "column": c,
                    "suppressed": self.suppressed[c],
                    "missing_before": self.missing_before[c],
                }
                for c in self.suppressed
            ],
            "complementary_suppression": self.complementary,
            "columns_not_published": list(self.left_out_columns),
            "risk": self.risk,
        }


@dataclass(frozen=True)
class OpenData:
    """The tables to publish and how they were protected."""

    vacancies: pd.DataFrame
    applications: pd.DataFrame
    protection: Protection


@dataclass(frozen=True)
class QuasiIdentifiers:
    """The quasi-identifiers of an export: vacancy attributes and applicant attributes, the
    latter in the order in which they are suppressed (least important first)."""

    vacancy: tuple[str, ...]
    application: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        """Every quasi-identifier."""
        return (*self.vacancy, *self.application)


def quasi_identifiers(plan: AnalysisPlan, bundle: Bundle) -> QuasiIdentifiers:
    """The quasi-identifiers of the export of ``bundle`` under ``plan``.

    Besides the defaults: every column the plan declares in ``disclosure.quasi_identifiers``
    and every column outside the contract that the plan names (it is published, so it is
    protected).

    Raises
    ------
    DataValidationError
        When a declared quasi-identifier is in neither table.
    """
    contract_vac = {c.name for c in VACANCY_COLUMNS}
    contract_app = {c.name for c in APPLICATION_COLUMNS}
    extra_vac = [c for c in plan.vacancy_columns() if c not in contract_vac]
    extra_app = [c for c in plan.application_columns() if c not in contract_app]
    problems: list[Problem] = []
    for name in plan.disclosure.quasi_identifiers:
        if name in bundle.vacancies:
            extra_vac.append(name)
        elif name in bundle.applications:
            extra_app.append(name)
        else:
            problems.append(
                Problem(
                    "plan",
                    "disclosure.quasi_identifiers names a column that is in neither "
                    "vacancies nor applications",
                    column="disclosure.quasi_identifiers",
                    value=name,
                    column_word="key",
                )
            )
    if problems:
        raise DataValidationError(problems_message("the open-data export", problems), problems)
    vacancy = tuple(
        dict.fromkeys(c for c in (*VACANCY_QUASI_IDENTIFIERS, *extra_vac) if c in bundle.vacancies)
    )
    # plan groups: the group of the first hypothesis is the most important, so last
    used: list[str] = []
    for h in plan.hypotheses:
        column = plan.groups[h.group].column
        if column not in used:
            used.append(column)
    candidates = [
        c
        for c in dict.fromkeys((*APPLICATION_QUASI_IDENTIFIERS, *extra_app))
        if c in bundle.applications and c not in vacancy
    ]
    unused = [c for c in candidates if c not in used]
    application = (*unused, *[c for c in reversed(used) if c in candidates])
    return QuasiIdentifiers(vacancy=vacancy, application=tuple(application))


def anonymise(bundle: Bundle, plan: AnalysisPlan) -> OpenData:
    """Protect the bundle's tables for publication (module docstring).

    Raises
    ------
    DataValidationError
        When the bundle holds fewer than k applications (nothing can be published) or a
        declared quasi-identifier does not exist.
    """
    k = plan.disclosure.k_anonymity
    if len(bundle.applications) < k:
        raise DataValidationError(
            f"The bundle holds {len(bundle.applications)} applications, fewer than "
            f"disclosure.k_anonymity = {k}: no microdata can be published."
        )
    qi = quasi_identifiers(plan, bundle)
    vac = bundle.vacancies
    apps = bundle.applications
    protection = Protection(k=k)
    vac_text = pd.DataFrame({c: _text(vac[c]) for c in qi.vacancy}, index=vac.index)
    if "salary_scale" in vac_text:
        vac_text["salary_scale"] = _band_labels(vac["salary_scale"], INITIAL_BANDS)
    weights = apps["vacancy_id"].value_counts().reindex(vac["vacancy_id"], fill_value=0)
    vac_text, protection.bands = _recode_globally(
        vac_text, vac["salary_scale"], weights.to_numpy(), k, protection, _boolean_columns(vac)
    )
    position = pd.Index(vac["vacancy_id"]).get_indexer(apps["vacancy_id"])
    joined = pd.DataFrame(
        {c: vac_text[c].to_numpy()[position] for c in qi.vacancy}, index=apps.index
    )
    for c in qi.application:
        joined[c] = _text(apps[c])
        protection.missing_before[c] = int((joined[c] == MISSING).sum())
    _suppress_locally(joined, qi, k, protection)
    protection.complementary = _suppress_complementary(joined, qi, k)
    for c in qi.application:
        protection.suppressed[c] = int((joined[c] == MISSING).sum()) - protection.missing_before[c]
    protection.risk = risk(joined, apps[OUTCOME].astype("str"), qi, k, apps["vacancy_id"])
    open_vac, open_apps = _published_tables(bundle, plan, qi, vac_text, joined, protection)
    described = [c for c in open_vac.columns if c not in ("vacancy_id", "block")]
    protection.risk["vacancies_unique"] = int(
        (_class_sizes(open_vac[described].astype("string").fillna(MISSING), described) == 1).sum()
    )
    return OpenData(open_vac, open_apps, protection)


# --------------------------------------------------------------------------------------
# steps


def _text(s: pd.Series) -> pd.Series:
    """Values as text (booleans as true/false) with :data:`MISSING` for empty cells."""
    if isinstance(s.dtype, pd.BooleanDtype):
        s = s.map({True: "true", False: "false"})
    return s.astype("string").fillna(MISSING).astype("object")


def _boolean_columns(frame: pd.DataFrame) -> frozenset[str]:
    return frozenset(c for c in frame.columns if isinstance(frame[c].dtype, pd.BooleanDtype))


def _band_labels(scales: pd.Series, bands: Sequence[Band]) -> pd.Series:
    out = pd.Series(MISSING, index=scales.index, dtype="object")
    for band in bands:
        out[(scales >= band.low) & (scales <= band.high)] = band.label
    return out


def _class_sizes(frame: pd.DataFrame, columns: Sequence[str]) -> npt.NDArray[np.int64]:
    """For each row, how many rows share its values in ``columns``."""
    codes = frame.groupby(list(columns), sort=False).ngroup().to_numpy()
    sizes: npt.NDArray[np.int64] = np.bincount(codes)[codes]
    return sizes


def _recode_globally(
    vac: pd.DataFrame,
    scales: pd.Series,
    weights: npt.NDArray[np.int64],
    k: int,
    protection: Protection,
    booleans: frozenset[str],
) -> tuple[pd.DataFrame, tuple[Band, ...]]:
    """Recode vacancy attributes until every combination holding applications holds at
    least ``k`` of them; the rarest value of a too-small combination goes first."""
    vac = vac.copy()
    bands = list(INITIAL_BANDS)
    columns = list(vac.columns)

    def other_of(column: str) -> str:
        return MISSING if column in booleans else OTHER

    while True:
        codes = vac.groupby(columns, sort=False).ngroup().to_numpy()
        cell_weight = np.bincount(codes, weights=weights)[codes]
        small = (cell_weight > 0) & (cell_weight < k)
        if not small.any():
            return vac, tuple(bands)
        # candidates: (weight of the value in the whole table, column order, value)
        best: tuple[float, int, str, str] | None = None
        for j, column in enumerate(columns):
            values = vac[column]
            totals = pd.Series(weights, index=vac.index).groupby(values.to_numpy()).sum()
            if column == "salary_scale":
                if len(bands) == 1:
                    continue
                candidates = set(values[small])
            else:
                candidates = {v for v in values[small] if v != other_of(column)}
                if not candidates:
                    # the small combination already holds the recoded value: recode the
                    # whole column, at the cost of every value still published
                    rest = totals.drop(other_of(column), errors="ignore")
                    if len(rest):
                        option = (float(rest.sum()), j, column, "")
                        best = option if best is None or option < best else best
                    continue
            for v in sorted(candidates):
                option = (float(totals[v]), j, column, v)
                best = option if best is None or option < best else best
        if best is None:  # cannot happen while the table holds k applications in all
            raise AssertionError("global recoding found nothing to recode")
        _, _, column, value = best
        if column == "salary_scale":
            bands, merged = _merge_band(bands, value, scales, weights)
            labels = _band_labels(scales, bands)
            changed = tuple(sorted(set(vac.loc[labels != vac[column], column])))
            vac[column] = labels
            protection.recodings.append(Recoding(column, changed, merged.label))
            continue
        target = other_of(column)
        chosen = (
            vac[column] != target if value == "" else vac[column] == value
        )  # "" means the whole column
        recoded = tuple(sorted(set(vac.loc[chosen, column])))
        vac.loc[chosen, column] = target
        protection.recodings.append(
            Recoding(
                column,
                tuple("" if v == MISSING else v for v in recoded),
                None if target == MISSING else target,
            )
        )


def _merge_band(
    bands: list[Band], label: str, scales: pd.Series, weights: npt.NDArray[np.int64]
) -> tuple[list[Band], Band]:
    """Merge the band ``label`` with its neighbour holding fewer applications (the lower
    one on a tie); return the new bands and the merged band."""
    i = next(i for i, b in enumerate(bands) if b.label == label)

    def weight(b: Band) -> float:
        return float(weights[((scales >= b.low) & (scales <= b.high)).to_numpy()].sum())

    neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(bands)]
    j = min(neighbours, key=lambda n: (weight(bands[n]), n))
    lo, hi = sorted((i, j))
    merged = Band(bands[lo].low, bands[hi].high)
    return [*bands[:lo], merged, *bands[hi + 1 :]], merged


def _suppress_locally(
    joined: pd.DataFrame, qi: QuasiIdentifiers, k: int, protection: Protection
) -> None:
    """Leave applicant attributes empty, least important first, in classes below k."""
    for column in qi.application:
        small = _class_sizes(joined, qi.all) < k
        if not small.any():
            return
        joined.loc[small, column] = MISSING


def _suppress_complementary(joined: pd.DataFrame, qi: QuasiIdentifiers, k: int) -> int:
    """Grow classes below k whose applicant attributes are all empty with the smallest
    other classes of the same vacancy attributes; return the applications so suppressed."""
    sizes = _class_sizes(joined, qi.all)
    if not (sizes < k).any() or not qi.application:
        return 0
    taken = 0
    cells = joined.groupby(list(qi.vacancy), sort=True) if qi.vacancy else [((), joined)]
    for _, cell in cells:
        cell_sizes = _class_sizes(cell, qi.all)
        if not (cell_sizes < k).any():
            continue
        empty = (cell[list(qi.application)] == MISSING).all(axis=1)
        have = int(empty.sum())
        keys = cell.loc[~empty, list(qi.application)].apply(tuple, axis=1)
        order = keys.value_counts().sort_index(kind="stable").sort_values(kind="stable")
        for key, size in order.items():
            if have >= k:
                break
            rows = keys.index[keys == key]
            joined.loc[rows, list(qi.application)] = MISSING
            have += int(size)
            taken += int(size)
    return taken


def risk(
    joined: pd.DataFrame,
    outcome: pd.Series,
    qi: QuasiIdentifiers,
    k: int,
    vacancy: pd.Series,
) -> dict[str, Any]:
    """The disclosure risk that remains in the published applications.

    Returns the number of classes, the smallest class, the l-diversity of the outcome
    (Machanavajjhala et al. 2007, distinct l-diversity: the fewest distinct outcomes in a
    class), the classes and applications with l = 1, and the applications that would be in a
    class below k if a reader knew which (pseudonymous) vacancy a person applied to.
    """
    keys = joined[list(qi.all)]
    codes = keys.groupby(list(qi.all), sort=False).ngroup().to_numpy()
    sizes = np.bincount(codes)
    frame = pd.DataFrame({"c": codes, "y": outcome.to_numpy()})
    distinct = frame.groupby("c")["y"].nunique().to_numpy()
    within = joined[list(qi.application)].assign(_vacancy=vacancy.to_numpy())
    within_sizes = _class_sizes(within, [*qi.application, "_vacancy"])
    return {
        "quasi_identifiers": list(qi.all),
        "classes": len(sizes),
        "smallest_class": int(sizes.min()),
        "k_satisfied": bool(sizes.min() >= k),
        "l_diversity": int(distinct.min()),
        "classes_with_one_outcome": int((distinct == 1).sum()),
        "applications_in_classes_with_one_outcome": int(sizes[distinct == 1].sum()),
        "applications_below_k_if_vacancy_known": int((within_sizes < k).sum()),
    }


def _new_ids(values: pd.Series, column: str, rng: np.random.Generator) -> pd.Series:
    """Map each distinct value to a new identifier in a random order."""
    distinct = pd.unique(values.dropna())
    order = rng.permutation(len(distinct))
    width = max(ID_WIDTH[column], len(str(len(distinct))))
    new = [f"{ID_PREFIX[column]}{i + 1:0{width}d}" for i in order]
    return values.map(dict(zip(distinct, new, strict=True)))


def _published_tables(
    bundle: Bundle,
    plan: AnalysisPlan,
    qi: QuasiIdentifiers,
    vac_text: pd.DataFrame,
    joined: pd.DataFrame,
    protection: Protection,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    vac, apps = bundle.vacancies, bundle.applications
    rng = np.random.default_rng(np.random.SeedSequence(plan.disclosure.seed))
    vac_keep = [
        c.name for c in VACANCY_COLUMNS if c.name in vac and c.name not in NOT_PUBLISHED
    ] + [c for c in qi.vacancy if c not in {s.name for s in VACANCY_COLUMNS}]
    app_keep = [c.name for c in APPLICATION_COLUMNS if c.name in apps] + [
        c for c in qi.application if c not in {s.name for s in APPLICATION_COLUMNS}
    ]
    protection.left_out_columns = tuple(
        sorted(
            {*(c for c in vac.columns if c not in vac_keep)}
            | {*(c for c in apps.columns if c not in app_keep)}
        )
    )
    out_vac = vac[vac_keep].copy()
    for c in qi.vacancy:
        values = vac_text[c].where(vac_text[c] != MISSING, None)
        if c == "salary_scale":
            lows = {b.label: b.low for b in protection.bands}
            out_vac["salary_scale"] = values.map(lows).astype("Int64")
            out_vac.insert(out_vac.columns.get_loc("salary_scale") + 1, "salary_band", values)
        elif isinstance(vac[c].dtype, pd.BooleanDtype):
            out_vac[c] = values.map({"true": True, "false": False}).astype("boolean")
        else:
            out_vac[c] = values
    out_apps = apps[app_keep].copy()
    for c in qi.application:
        published = joined[c].where(joined[c] != MISSING, None)
        if isinstance(apps[c].dtype, pd.BooleanDtype):
            out_apps[c] = published.map({"true": True, "false": False}).astype("boolean")
        else:
            out_apps[c] = published
    vacancy_ids = _new_ids(vac["vacancy_id"], "vacancy_id", rng)
    out_vac["vacancy_id"] = vacancy_ids.to_numpy()
    if "block" in out_vac:
        out_vac["block"] = _new_ids(vac["block"], "block", rng).to_numpy()
    out_apps["vacancy_id"] = apps["vacancy_id"].map(
        dict(zip(vac["vacancy_id"], vacancy_ids, strict=True))
    )
    out_apps["application_id"] = _new_ids(apps["application_id"], "application_id", rng)
    out_vac = out_vac.sort_values("vacancy_id", kind="stable").reset_index(drop=True)
    out_apps = out_apps.sort_values("application_id", kind="stable").reset_index(drop=True)
    return out_vac, out_apps


def compare_results(
    original: Mapping[str, Any], published: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per hypothesis, the chosen estimate on the original data and on the open data."""
    fields = ("estimate", "ci_low", "ci_high", "p_adjusted", "verdict", "n_applications")
    after = {h["id"]: h for h in published["hypotheses"]}
    rows = []
    for h in original["hypotheses"]:
        b = after[h["id"]]
        a_est, b_est = h["estimate"], b["estimate"]
        rows.append(
            {
                "hypothesis": h["id"],
                "kind": h["kind"],
                "estimator": h["estimator"],
                "scale": h["scale"],
                "original": {f: h[f] for f in fields},
                "open_data": {f: b[f] for f in fields},
                "difference": None if a_est is None or b_est is None else b_est - a_est,
                "same_verdict": h["verdict"] == b["verdict"],
            }
        )
    return rows
