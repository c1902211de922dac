"""Planning power: minimum detectable effects against statsmodels and hand calculations."""

from __future__ import annotations

import math

import pytest
from statsmodels.stats.power import NormalIndPower

from pilot_eval.analysis.inference import family_level
from pilot_eval.design.power import PowerSettings, minimum_detectable, variance
from pilot_eval.plan.model import AnalysisPlan, Hypothesis


def _h(plan: AnalysisPlan, h_id: str) -> Hypothesis:
    return next(h for h in plan.hypotheses if h.id == h_id)


def test_pool_share_without_design_effect_matches_statsmodels(plan: AnalysisPlan) -> None:
    s = PowerSettings(vacancies=200, applications_per_vacancy=50, icc=0.0, arm_share=0.25)
    h1 = _h(plan, "H1")  # pool_share, one-sided greater, Holm family of three
    mde = minimum_detectable(plan, h1, s)
    n = 200 * 50 * 0.8
    n1, n0 = n * 0.25, n * 0.75
    # statsmodels solves for the standardised effect d = diff / sqrt(q(1 - q))
    d = NormalIndPower().solve_power(
        nobs1=n1, ratio=n0 / n1, alpha=0.05 / 3, power=0.8, alternative="larger"
    )
    # solve_power finds d by root-finding, to about 1e-6 relative
    assert mde == pytest.approx(d * math.sqrt(0.17 * 0.83), rel=1e-5)


def test_design_effect_scales_the_variance(plan: AnalysisPlan) -> None:
    h1 = _h(plan, "H1")
    flat = PowerSettings(vacancies=100, applications_per_vacancy=41, icc=0.0)
    clustered = PowerSettings(vacancies=100, applications_per_vacancy=41, icc=0.05)
    # Deff = 1 + (m - 1) ICC with m = 41 * 0.8 = 32.8 reported applications per vacancy
    deff = 1 + (41 * 0.8 - 1) * 0.05
    assert variance(plan, h1, clustered) == pytest.approx(variance(plan, h1, flat) * deff)


def test_gap_difference_variance_by_hand(plan: AnalysisPlan) -> None:
    h3 = _h(plan, "H3")  # interviewed -> offered, origin
    s = PowerSettings(vacancies=240, applications_per_vacancy=100, arm_share=0.5, missing=0.0)
    at_risk = 240 * 100 * 0.25 * 0.85  # reached interviewed
    p = 0.30
    cells = [at_risk * 0.5 * g for g in (0.17, 0.75) for _ in (0, 1)]
    assert variance(plan, h3, s) == pytest.approx(p * (1 - p) * sum(1 / c for c in cells))


def test_impact_ratio_mde_is_a_ratio_below_one(plan: AnalysisPlan) -> None:
    s = PowerSettings(vacancies=240, applications_per_vacancy=100)
    ratio = minimum_detectable(plan, _h(plan, "H5"), s)
    assert 0 < ratio < 1


def test_family_level(plan: AnalysisPlan) -> None:
    assert family_level(plan, _h(plan, "H1")) == pytest.approx(0.05 / 3)
    assert family_level(plan, _h(plan, "H4")) == pytest.approx(0.05 / 5)


def test_more_vacancies_smaller_effects(plan: AnalysisPlan) -> None:
    small = PowerSettings(vacancies=60, applications_per_vacancy=100)
    large = PowerSettings(vacancies=600, applications_per_vacancy=100)
    for h in plan.hypotheses:
        if h.kind == "impact_ratio":
            assert minimum_detectable(plan, h, small) < minimum_detectable(plan, h, large)
        else:
            assert abs(minimum_detectable(plan, h, small)) > abs(minimum_detectable(plan, h, large))
