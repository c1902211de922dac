"""Anonymised microdata that can be published: the open-data export.

The export keeps the tables of the contract and nothing else: no column outside the
contract (free text of applicants never), no exact dates, new identifiers for vacancies,
applications and blocks. Quasi-identifiers (department, function family, salary scale,
managerial, age band, gender, origin, disability, and any the plan adds) are protected so
that every combination of them among the published applications occurs at least
``disclosure.k_anonymity`` times, in three steps (Hundepool et al. 2012, *Statistical
Disclosure Control*, sections 3.4 and 3.6; the approach of sdcMicro's ``globalRecode`` and
``localSuppression``):

1. **Global recoding.** Salary scales are published in bands (those of the reweighting
   profile); a band with fewer than k applications is merged with a neighbour. A
   department, function family or extra attribute with fewer than k applications in the
   whole bundle becomes ``other`` in every row (with at least one other value, so that
   ``other`` never names a single value).
2. **Local recoding of vacancies.** Vacancies whose combination of attributes still holds
   fewer than k applications have their attributes recoded one after the other, least
   important first, until none is left: extra attributes and the managerial flag left
   empty, the function family and then the department to ``other``. Vacancies that still
   form too small a combination take along the smallest other combinations of their salary
   band (complementary recoding).
3. **Local suppression** of the applicant attributes. For applications whose combination
   still occurs fewer than k times, applicant attributes are left empty one after the
   other, least important first: attributes that no group of the plan uses, then the plan's
   group columns from the last-used to the group of the primary hypotheses.
4. **Complementary suppression.** Applications whose applicant attributes are all empty
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

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from pilot_eval.data.bundle import Bundle
from pilot_eval.data.tables import APPLICATION_COLUMNS, SCALE_BANDS, VACANCY_COLUMNS
from pilot_eval.errors import DataValidationError, Problem, problems_message
from pilot_eval.plan.model import AnalysisPlan

VACANCY_QUASI_IDENTIFIERS = ("department", "function_family", "salary_scale", "managerial")
APPLICATION_QUASI_IDENTIFIERS = ("age_band", "gender", "origin", "disability")

NOT_PUBLISHED = ("opened_on",)
"""Contract columns left out of the open data: an exact opening date singles out a
vacancy (its public advertisement)."""

NOT_QUASI_IDENTIFIERS: Mapping[str, str] = {
    "vacancy_id": "identifiers are replaced by new ones, not recoded",
    "application_id": "identifiers are replaced by new ones, not recoded",
    "block": "identifiers are replaced by new ones, not recoded",
    "arm": "the arm is what the plan compares; it is published unchanged",
    "stage_reached": "an outcome is not recoded or suppressed",
    "withdrew": "an outcome is not recoded or suppressed",
    "questionnaire_score": "an outcome is not recoded or suppressed",
    "interview_score": "an outcome is not recoded or suppressed",
    "opened_on": "the opening date is never published",
}
"""Columns that ``disclosure.quasi_identifiers`` may not name, and why."""

OTHER = "other"
"""The published value of recoded departments, function families and extra attributes."""

MISSING = "\x00"
"""Internal stand-in for an empty cell while classes are formed."""

OUTCOME = "stage_reached"
"""The sensitive attribute whose diversity within classes is reported."""

ID_WIDTH = {"vacancy_id": 4, "application_id": 6, "block": 3}
ID_PREFIX = {"vacancy_id": "OV", "application_id": "OA", "block": "OB"}
"""Prefixes of the new identifiers, unlike those of any bundle written by `simulate`, so that
nobody mistakes a new identifier for an original one."""


@dataclass(frozen=True)
class Band:
    """A band of salary scales, ``low`` to ``high`` inclusive."""

    low: int
    high: int

    @property
    def label(self) -> str:
        """``"9-10"``, or ``"9"`` for a band of one scale."""
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    @classmethod
    def parse(cls, label: str) -> Band:
        """The band of a label."""
        low, _, high = label.partition("-")
        return cls(int(low), int(high or low))


INITIAL_BANDS = tuple(Band(low, high) for low, high, _ in SCALE_BANDS)
"""The bands every export starts from: those of the reweighting profile."""


@dataclass(frozen=True)
class Recoding:
    """One global recoding of a vacancy attribute."""

    column: str
    values: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """The recoding in results form."""
        return {"column": self.column, "from": list(self.values), "to": OTHER}


@dataclass
class Protection:
    """What the anonymisation did, and the risk that remains."""

    k: int
    recodings: list[Recoding] = field(default_factory=list)
    recoded_locally: dict[str, int] = field(default_factory=dict)
    vacancies_completed: int = 0
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
            "local_recoding": [
                {"column": c, "vacancies": n} for c, n in self.recoded_locally.items()
            ],
            "vacancies_complementary": self.vacancies_completed,
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
    scores = set(plan.score_columns())
    extra_vac = [c for c in plan.vacancy_columns() if c not in contract_vac]
    extra_app = [c for c in plan.application_columns() if c not in contract_app | scores]
    problems: list[Problem] = []

    def refuse(name: str, rule: str) -> None:
        problems.append(
            Problem(
                "plan",
                rule,
                column="disclosure.quasi_identifiers",
                value=name,
                column_word="key",
            )
        )

    for name in plan.disclosure.quasi_identifiers:
        if name in NOT_QUASI_IDENTIFIERS or name in scores:
            refuse(name, NOT_QUASI_IDENTIFIERS.get(name, "an outcome is not recoded or suppressed"))
        elif name in bundle.vacancies:
            extra_vac.append(name)
        elif name in bundle.applications:
            extra_app.append(name)
        else:
            refuse(name, "names a column that is in neither vacancies nor applications")
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
    vac, apps = bundle.vacancies, bundle.applications
    protection = Protection(k=k)
    booleans = _boolean_columns(vac)
    vac_text = pd.DataFrame({c: _text(vac[c]) for c in qi.vacancy}, index=vac.index)
    if "salary_scale" in vac_text:
        vac_text["salary_scale"] = _band_labels(vac["salary_scale"], INITIAL_BANDS)
    counts = apps["vacancy_id"].value_counts().reindex(vac["vacancy_id"], fill_value=0)
    weights = np.asarray(counts, dtype=np.int64)
    replacement = {c: MISSING if c in booleans else OTHER for c in qi.vacancy}
    protection.recodings = _recode_rare(vac_text, weights, k, replacement)
    bands = list(INITIAL_BANDS)
    if "salary_scale" in vac_text:
        bands = _merge_rare_bands(vac["salary_scale"], weights, k)
        vac_text["salary_scale"] = _band_labels(vac["salary_scale"], bands)
    protection.bands = tuple(bands)
    # least important first: extra attributes, managerial, function family, department; the
    # salary band stays, so that every published band is one range of scales
    order = tuple(c for c in reversed(qi.vacancy) if c != "salary_scale")
    protection.recoded_locally = _suppress_in_order(
        vac_text, qi.vacancy, order, replacement, weights, k
    )
    within = ("salary_scale",) if "salary_scale" in vac_text else ()
    protection.vacancies_completed = _complete(
        vac_text, qi.vacancy, order, replacement, weights, k, within=within
    )
    position = pd.Index(vac["vacancy_id"]).get_indexer(apps["vacancy_id"])
    joined = pd.DataFrame(
        {c: vac_text[c].to_numpy()[position] for c in qi.vacancy}, index=apps.index
    )
    for c in qi.application:
        joined[c] = _text(apps[c])
        protection.missing_before[c] = int((joined[c] == MISSING).sum())
    empty = dict.fromkeys(qi.application, MISSING)
    ones = np.ones(len(joined), dtype=np.int64)
    _suppress_in_order(joined, qi.all, qi.application, empty, ones, k)
    protection.complementary = _complete(
        joined, qi.all, qi.application, empty, ones, k, within=qi.vacancy
    )
    for c in qi.application:
        protection.suppressed[c] = int((joined[c] == MISSING).sum()) - protection.missing_before[c]
    protection.risk = risk(joined, apps[OUTCOME].astype("str"), qi, k, apps["vacancy_id"])
    open_vac, open_apps = _published_tables(bundle, plan, qi, vac_text, joined, protection)
    # a vacancy is described by its columns and by its number of applications in the file
    described = [c for c in open_vac.columns if c not in ("vacancy_id", "block")]
    text = open_vac[described].astype("string").fillna(MISSING)
    sizes = open_apps["vacancy_id"].value_counts().reindex(open_vac["vacancy_id"], fill_value=0)
    text["applications"] = sizes.to_numpy().astype("str")
    protection.risk["vacancies_unique"] = int(
        (_cell_weights(text, [*described, "applications"]) == 1).sum()
    )
    protection.risk.update(insider_risk(open_apps, sensitive_values(plan)))
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


def _cell_weights(
    frame: pd.DataFrame, columns: Sequence[str], weights: npt.NDArray[np.int64] | None = None
) -> npt.NDArray[np.float64]:
    """For each row, the total weight (default: the number) of the rows that share its
    values in ``columns``."""
    codes = frame.groupby(list(columns), sort=False).ngroup().to_numpy()
    totals: npt.NDArray[np.float64] = np.bincount(codes, weights=weights).astype(np.float64)
    return totals[codes]


def _small(
    frame: pd.DataFrame, columns: Sequence[str], weights: npt.NDArray[np.int64], k: int
) -> npt.NDArray[np.bool_]:
    """Rows whose combination holds some weight, but less than ``k``."""
    totals = _cell_weights(frame, columns, weights)
    small: npt.NDArray[np.bool_] = (totals > 0) & (totals < k)
    return small


def _recode_rare(
    vac: pd.DataFrame, weights: npt.NDArray[np.int64], k: int, replacement: Mapping[str, str]
) -> list[Recoding]:
    """Global recoding: a department, function family or extra attribute with fewer than
    ``k`` applications in the whole bundle becomes ``other`` in every row. When only one
    value would be recoded, the next rarest goes with it: an ``other`` that stands for one
    value would name it."""
    recodings: list[Recoding] = []
    for column in vac.columns:
        if replacement[column] != OTHER:
            continue
        totals = pd.Series(weights).groupby(vac[column].to_numpy()).sum()
        totals = totals[(totals > 0) & (totals.index != OTHER)].sort_values(kind="stable")
        rare = [str(v) for v, w in totals.items() if w < k]
        if len(rare) == 1 and len(totals) > 1:
            rare.append(str(totals.index[1]))
        if rare:
            vac.loc[vac[column].isin(rare), column] = OTHER
            shown = tuple(sorted("" if v == MISSING else v for v in rare))
            recodings.append(Recoding(column, shown))
    return recodings


def _merge_rare_bands(scales: pd.Series, weights: npt.NDArray[np.int64], k: int) -> list[Band]:
    """Global recoding of salary bands: a band with fewer than ``k`` applications (and more
    than none) is merged with its neighbour holding fewer (the lower on a tie), until none
    is left or one band covers every scale."""
    bands = list(INITIAL_BANDS)
    values = scales.to_numpy(dtype=np.float64, na_value=np.nan)

    def weight(b: Band) -> int:
        return int(weights[(values >= b.low) & (values <= b.high)].sum())

    while len(bands) > 1:
        rare = [i for i, b in enumerate(bands) if 0 < weight(b) < k]
        if not rare:
            break
        i = min(rare, key=lambda j: (weight(bands[j]), j))
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(bands)]
        j = min(neighbours, key=lambda n: (weight(bands[n]), n))
        lo, hi = sorted((i, j))
        bands[lo : hi + 1] = [Band(bands[lo].low, bands[hi].high)]
    return bands


def _suppress_in_order(
    frame: pd.DataFrame,
    columns: Sequence[str],
    order: Sequence[str],
    replacement: Mapping[str, str],
    weights: npt.NDArray[np.int64],
    k: int,
) -> dict[str, int]:
    """Local recoding or suppression: in the rows whose combination of ``columns`` holds
    less than ``k``, replace the values of ``order`` one column after the other (the
    replacements accumulate) until no such row is left. Returns the rows changed per
    column."""
    changed = dict.fromkeys(order, 0)
    for column in order:
        small = _small(frame, columns, weights, k)
        if not small.any():
            break
        hit = small & (frame[column] != replacement[column]).to_numpy()
        frame.loc[hit, column] = replacement[column]
        changed[column] = int(hit.sum())
    return changed


def _complete(
    frame: pd.DataFrame,
    columns: Sequence[str],
    order: Sequence[str],
    replacement: Mapping[str, str],
    weights: npt.NDArray[np.int64],
    k: int,
    within: Sequence[str] = (),
) -> int:
    """Complementary suppression. Rows still below ``k`` after :func:`_suppress_in_order`
    hold the replacement in every column of ``order``; their combination takes along the
    lightest other combinations with the same ``within`` values until it holds ``k``.
    Returns the rows so changed."""
    small = _small(frame, columns, weights, k)
    if not small.any():
        return 0
    target = np.array([replacement[c] for c in order], dtype=object)
    full = (frame[list(order)].to_numpy() == target).all(axis=1)
    if within:
        part = frame.groupby(list(within), sort=True).ngroup().to_numpy()
    else:
        part = np.zeros(len(frame), dtype=np.int64)
    class_weight = _cell_weights(frame, columns, weights)
    class_code = frame.groupby(list(columns), sort=True).ngroup().to_numpy()
    taken = 0
    for p in np.unique(part[small]):
        member = part == p
        have = float(weights[member & full].sum())
        others = pd.DataFrame(
            {"w": class_weight[member & ~full], "code": class_code[member & ~full]}
        ).drop_duplicates()
        for w, code in others.sort_values(["w", "code"]).itertuples(index=False):
            if have >= k:
                break
            if w == 0:
                continue
            rows = member & (class_code == code)
            frame.loc[rows, list(order)] = target
            have += float(w)
            taken += int(rows.sum())
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
    within_sizes = _cell_weights(within, [*qi.application, "_vacancy"])
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


SCORES_PUBLISHED = ("questionnaire_score", "interview_score")
COMMITTEE_VIEW = ("stage_reached", "age_band", "gender")
"""What the selection committee of a vacancy knows of each of its applicants besides the
vacancy: how far they got, and what it saw (age, gender)."""

SENSITIVE = ("origin", "disability")


def insider_risk(
    published: pd.DataFrame, sensitive: Mapping[str, frozenset[str]]
) -> dict[str, int]:
    """The risk from an insider, measured on the published applications.

    * ``applications_unique_on_vacancy_and_scores``: applications with a published score
      that no other application of the vacancy shares; the committee, which scored them,
      finds the row.
    * ``applications_sensitive_known_to_committee``: applications whose origin or disability
      (a value of the plan's focal group) the committee could read, because every
      application of the vacancy with the same stage reached, age band and gender that
      shows the column shows a focal value.
    """
    vacancy = published["vacancy_id"].astype("string").fillna(MISSING)
    scores = [c for c in SCORES_PUBLISHED if c in published]
    out = {"applications_unique_on_vacancy_and_scores": 0}
    if scores:
        frame = pd.DataFrame({c: _text(published[c]) for c in scores}).assign(_v=vacancy)
        scored = (frame[scores] != MISSING).any(axis=1).to_numpy()
        sizes = _cell_weights(frame, [*scores, "_v"])
        out["applications_unique_on_vacancy_and_scores"] = int(((sizes == 1) & scored).sum())
    view = [c for c in COMMITTEE_VIEW if c in published]
    keys_frame = pd.DataFrame({c: _text(published[c]) for c in view}).assign(_v=vacancy)
    keys = keys_frame.groupby([*view, "_v"], sort=False).ngroup().to_numpy()
    known = np.zeros(len(published), dtype=bool)
    for column, focal in sensitive.items():
        if column not in published or not focal:
            continue
        values = _text(published[column])
        shown = (values != MISSING).to_numpy()
        is_focal = values.astype("str").str.lower().isin(focal).to_numpy() & shown
        shown_n = np.bincount(keys, weights=shown.astype(np.float64))
        focal_n = np.bincount(keys, weights=is_focal.astype(np.float64))
        known |= ((focal_n > 0) & (focal_n == shown_n))[keys] & is_focal
    out["applications_sensitive_known_to_committee"] = int(known.sum())
    return out


def sensitive_values(plan: AnalysisPlan) -> dict[str, frozenset[str]]:
    """Per sensitive column (origin, disability), the focal values of the plan's groups."""
    out: dict[str, set[str]] = {}
    for group in plan.groups.values():
        if group.column in SENSITIVE:
            out.setdefault(group.column, set()).update(str(v).lower() for v in group.focal)
    return {c: frozenset(v) for c, v in out.items()}


def _secret_key(bundle: Bundle) -> int:
    """The key of the random order of the new identifiers: a hash of the original tables'
    bytes with a domain label. Deterministic for the same data, and unknown to anyone
    without them (the published SHA-256 of a file is not this hash), so the order cannot be
    undone to recover original identifiers or the original order of rows."""
    digest = hashlib.sha256(b"pilot-eval open-data identifiers\n")
    for name in sorted(bundle.files):
        digest.update((bundle.folder / name).read_bytes())
    return int.from_bytes(digest.digest(), "big")


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
    rng = np.random.default_rng(np.random.SeedSequence(_secret_key(bundle)))
    contract_vac = [c.name for c in VACANCY_COLUMNS]
    contract_app = [c.name for c in APPLICATION_COLUMNS]
    vac_keep = [c for c in contract_vac if c in vac and c not in NOT_PUBLISHED]
    vac_keep += [c for c in qi.vacancy if c not in contract_vac]
    # extra columns: quasi-identifiers (protected) and the plan's scores (outcomes)
    app_keep = [c for c in contract_app if c in apps]
    app_keep += [c for c in (*qi.application, *plan.score_columns()) if c not in contract_app]
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
            out_vac["salary_scale"] = values.map(lambda v: Band.parse(v).low).astype("Int64")
            out_vac.insert(list(out_vac.columns).index("salary_scale") + 1, "salary_band", values)
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
