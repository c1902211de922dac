"""How the pilot and control vacancies compare with all vacancies of the period.

From the optional table ``population`` (department, function family, salary scale and a
count of vacancies; one row per vacancy when the count is left out). Per margin of the
plan's ``representativeness`` section (salary scales in bands) and per arm:

* the share of each category among the arm's vacancies and among all vacancies, and the
  standardised difference (p_arm - p_all) / sqrt((p_arm (1 - p_arm) + p_all (1 - p_all)) / 2)
  (Austin 2009; |d| > 0.1 is the usual mark of imbalance);
* a goodness-of-fit test of the arm's counts against the population's shares: Pearson's
  chi-square (scipy ``chisquare``) and, because categories are often small, its
  Monte Carlo p-value from multinomial draws under the population's shares (seeded by the
  plan; (1 + extreme) / (1 + draws)).

Population weights (a robustness specification with ``population_weights: true``): each
arm's vacancies are raked to the population's margins (``raking.rake``), so that the arm
stands for all vacancies of the period; categories the arm has no vacancy in cannot be
represented, are left out of the margin and reported with their population share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from pilot_eval.analysis.evidence.raking import kish_design_effect, rake
from pilot_eval.analysis.weighting import profile_values
from pilot_eval.data.tables import SCALE_BANDS
from pilot_eval.plan.model import AnalysisPlan

FloatArray = npt.NDArray[np.float64]


def _population_counts(population: pd.DataFrame, margin: str) -> pd.Series:
    count = (
        population["vacancies"].astype("float64").fillna(1.0)
        if "vacancies" in population
        else pd.Series(1.0, index=population.index)
    )
    return count.groupby(profile_values(population, margin).to_numpy()).sum().sort_index()


def _category_order(margin: str) -> Any:
    """Salary bands in their order, other categories alphabetically."""
    if margin != "salary_band":
        return lambda c: (0, str(c))
    bands = [label for _, _, label in SCALE_BANDS]
    return lambda c: (bands.index(c), "") if c in bands else (len(bands), str(c))


def standardised_difference(p1: float, p0: float) -> float | None:
    """(p1 - p0) / sqrt((p1 (1 - p1) + p0 (1 - p0)) / 2); None when both are 0 or 1."""
    var = (p1 * (1 - p1) + p0 * (1 - p0)) / 2
    return (p1 - p0) / float(np.sqrt(var)) if var > 0 else None


def goodness_of_fit(
    observed: npt.NDArray[np.int64], shares: FloatArray, draws: int, seed: int
) -> dict[str, Any]:
    """Pearson's chi-square of observed counts against population shares, asymptotic and
    by Monte Carlo (multinomial draws under the shares)."""
    n = int(observed.sum())
    keep = shares > 0
    expected = n * shares[keep]
    chi2, p = stats.chisquare(observed[keep], expected)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    sims = rng.multinomial(n, shares[keep] / shares[keep].sum(), size=draws)
    sim_chi2 = ((sims - expected) ** 2 / expected).sum(axis=1)
    extreme = int(np.sum(sim_chi2 >= chi2 - 1e-9 * max(1.0, float(chi2))))
    return {
        "statistic": float(chi2),
        "df": int(keep.sum() - 1),
        "p_value": float(p),
        "p_value_monte_carlo": (1 + extreme) / (1 + draws),
        "draws": draws,
        "min_expected": float(expected.min()),
    }


def representativeness_section(
    vacancies: pd.DataFrame, population: pd.DataFrame, plan: AnalysisPlan
) -> dict[str, Any]:
    """Shares, standardised differences and a test per margin and arm."""
    r = plan.representativeness
    assert r is not None  # the run calls this only when the plan has the section
    vac = vacancies[vacancies["arm"].astype("str").isin(plan.design.arms)]
    arm = vac["arm"].astype("str")
    margins = []
    for m_index, margin in enumerate(r.margins):
        pop = _population_counts(population, margin)
        values = profile_values(vac, margin)
        categories = sorted(set(pop.index) | set(values), key=_category_order(margin))
        pop = pop.reindex(categories, fill_value=0.0)
        pop_share = (pop / pop.sum()).to_numpy()
        arms_out = [
            _arm_margin(
                values if a == "all" else values[arm == a],
                a,
                categories,
                pop_share,
                r.draws,
                r.seed + 100 * m_index + a_index,
            )
            for a_index, a in enumerate((*plan.design.arms, "all"))
        ]
        margins.append({"margin": margin, "population": float(pop.sum()), "arms": arms_out})
    return {"margins": margins, "draws": r.draws}


def _arm_margin(
    in_arm: pd.Series,
    a: str,
    categories: list[Any],
    pop_share: FloatArray,
    draws: int,
    seed: int,
) -> dict[str, Any]:
    """One arm's vacancies on one margin against all vacancies: share and standardised
    difference per category, the largest difference, and the goodness-of-fit test (seeded)."""
    counts = np.asarray(in_arm.value_counts().reindex(categories, fill_value=0), dtype=np.int64)
    n = int(counts.sum())
    shares = counts / n if n else np.zeros(len(categories))
    rows: list[dict[str, Any]] = [
        {
            "category": str(c),
            "vacancies": int(counts[i]),
            "share": float(shares[i]),
            "population_share": float(pop_share[i]),
            "standardised_difference": standardised_difference(
                float(shares[i]), float(pop_share[i])
            ),
        }
        for i, c in enumerate(categories)
    ]
    not_in_population = [
        str(c) for i, c in enumerate(categories) if pop_share[i] == 0 and counts[i] > 0
    ]
    test = (
        goodness_of_fit(counts, pop_share, draws, seed)
        if n and not not_in_population
        else {
            "reason": "categories of the arm are absent from the population: "
            + ", ".join(not_in_population)
        }
        if not_in_population
        else {"reason": "no vacancies"}
    )
    return {
        "arm": a,
        "vacancies": n,
        "categories": rows,
        "max_abs_standardised_difference": max(
            (
                abs(x["standardised_difference"])
                for x in rows
                if x["standardised_difference"] is not None
            ),
            default=None,
        ),
        "test": test,
    }


def population_weights(
    vacancies: pd.DataFrame, population: pd.DataFrame, plan: AnalysisPlan, arms: tuple[str, ...]
) -> tuple[pd.Series, dict[str, Any]]:
    """Weight per vacancy_id of the given arms: each arm raked to the population margins
    (mean weight 1 within the arm), and a summary per arm."""
    r = plan.representativeness
    assert r is not None  # guaranteed by check_references for population_weights
    out = pd.Series(dtype="float64")
    summary: dict[str, Any] = {"margins": list(r.margins), "arms": {}}
    for a in arms:
        vac = vacancies[vacancies["arm"].astype("str") == a]
        codes, targets, uncovered = [], [], {}
        for margin in r.margins:
            pop = _population_counts(population, margin)
            values = profile_values(vac, margin)
            present = sorted(set(values) & set(pop.index))
            absent = [c for c in pop.index if c not in present]
            uncovered[margin] = float(pop[absent].sum() / pop.sum()) if absent else 0.0
            pop = pop.reindex(present)
            index = pd.Index(present)
            code = index.get_indexer(values)
            codes.append(code)
            targets.append((pop / pop.sum() * len(vac)).to_numpy(dtype=np.float64))
        usable = np.all(np.column_stack(codes) >= 0, axis=1) if codes else np.ones(len(vac), bool)
        raked = rake(
            np.ones(int(usable.sum())),
            [c[usable].astype(np.intp) for c in codes],
            [t * usable.sum() / len(vac) for t in targets],
        )
        w = np.zeros(len(vac))
        w[usable] = raked.weights
        out = pd.concat([out, pd.Series(w, index=vac["vacancy_id"].to_numpy())])
        summary["arms"][a] = {
            "vacancies": len(vac),
            "population_share_not_covered": uncovered,
            "max_weight": float(w.max()) if len(w) else None,
            "design_effect": kish_design_effect(w[usable]) if usable.any() else None,
        }
    return out, summary
