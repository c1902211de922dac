"""Randomisation inference: the fast statistic equals lpm_fe; exact and drawn p-values."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from pilot_eval.analysis.estimators import Context, estimate
from pilot_eval.analysis.estimators.randomisation import Assignment
from pilot_eval.data.frame import ComparisonSample
from pilot_eval.plan.model import AnalysisPlan, Hypothesis, RandomisationInference

STAGE = {"from": "applied", "to": "invited"}


def _bundle(seed: int, n_blocks: int, per_block: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(n_blocks):
        pilots = set(rng.choice(per_block, size=per_block // 3 or 1, replace=False).tolist())
        for j in range(per_block):
            vac = f"B{b}V{j}"
            arm = "pilot" if j in pilots else "control"
            for _ in range(int(rng.integers(6, 25))):
                focal = bool(rng.random() < 0.4)
                rate = 0.3 - (0.1 if focal and arm == "control" else 0.0)
                rows.append(
                    {
                        "vacancy_id": vac,
                        "block": f"B{b}",
                        "arm": arm,
                        "family": ["a", "b"][b % 2],
                        "scale": 8 + j % 3,
                        "focal": focal,
                        "success": bool(rng.random() < rate),
                    }
                )
    return pd.DataFrame(rows)


def _plan(plan: AnalysisPlan, draws: int) -> AnalysisPlan:
    ri = RandomisationInference(draws=draws, seed=11)
    return plan.model_copy(update={"randomisation_inference": ri})


def _ctx(plan: AnalysisPlan, kind: str, **kw: object) -> Context:
    base: dict[str, object] = {"id": "T", "family": "primary", "group": "origin", "arm": "pilot"}
    extra = {"stage": STAGE} if kind == "gap_difference" else {}
    return Context(plan, Hypothesis.model_validate({**base, "kind": kind, **extra, **kw}))


def _sample(frame: pd.DataFrame) -> ComparisonSample:
    return ComparisonSample(frame=frame, exclusions=(), n_total=len(frame))


def _brute_force_p(frame: pd.DataFrame, ctx: Context) -> float:
    """Refit lpm_fe under every within-block assignment: the slow, independent reference."""
    observed = estimate("lpm_fe", _sample(frame), ctx).estimate
    assert observed is not None
    vac = frame.drop_duplicates("vacancy_id")[["vacancy_id", "block", "arm"]]
    options = []
    for _, rows in vac.groupby("block"):
        k = int((rows["arm"] == "pilot").sum())
        options.append([set(c) for c in itertools.combinations(rows["vacancy_id"], k)])
    extreme = total = 0
    for choice in itertools.product(*options):
        pilots = set().union(*choice)
        arm = np.where(frame["vacancy_id"].isin(pilots), "pilot", "control")
        e = estimate("lpm_fe", _sample(frame.assign(arm=arm)), ctx).estimate
        total += 1
        if e is not None and abs(e) >= abs(observed) - 1e-12:
            extreme += 1
    return extreme / total


@pytest.mark.parametrize("kind", ["gap_difference", "pool_share"])
def test_exact_p_equals_brute_force_refits(plan: AnalysisPlan, kind: str) -> None:
    frame = _bundle(seed=1, n_blocks=3, per_block=4)  # 4^3 = 64 assignments
    ctx = _ctx(_plan(plan, draws=1000), kind)
    e = estimate("randomisation", _sample(frame), ctx)
    assert e.details["exact"] is True
    assert e.details["assignments_used"] == 64
    assert e.estimate == pytest.approx(estimate("lpm_fe", _sample(frame), ctx).estimate, rel=1e-10)
    assert e.p_value == pytest.approx(_brute_force_p(frame, ctx), abs=1e-12)


def test_pool_share_statistic_with_covariates_equals_lpm(plan: AnalysisPlan) -> None:
    frame = _bundle(seed=2, n_blocks=4, per_block=5)
    ctx = _ctx(_plan(plan, draws=200), "pool_share", adjust_for=["scale"])
    e = estimate("randomisation", _sample(frame), ctx)
    lpm = estimate("lpm_fe", _sample(frame), ctx)
    assert e.estimate == pytest.approx(lpm.estimate, rel=1e-10)


def test_drawn_p_value_is_reproducible_and_close_to_exact(plan: AnalysisPlan) -> None:
    frame = _bundle(seed=3, n_blocks=5, per_block=4)  # 4^5 = 1024 assignments
    exact = estimate("randomisation", _sample(frame), _ctx(_plan(plan, 2000), "gap_difference"))
    assert exact.details["exact"] is True
    drawn_ctx = _ctx(_plan(plan, 500), "gap_difference")
    drawn = estimate("randomisation", _sample(frame), drawn_ctx)
    again = estimate("randomisation", _sample(frame), drawn_ctx)
    assert drawn.details["exact"] is False
    assert drawn.p_value == again.p_value
    assert exact.p_value is not None
    assert drawn.p_value is not None
    # Monte Carlo standard error of a p-value from 500 draws is at most 0.5/sqrt(500) = 0.022
    assert abs(drawn.p_value - exact.p_value) < 4 * 0.5 / np.sqrt(500)


def test_draws_keep_the_number_treated_in_every_block() -> None:
    blocks = np.repeat(np.arange(4), [3, 5, 2, 6]).astype(np.intp)
    treated = np.zeros(16)
    treated[[0, 3, 4, 8, 10, 11, 12]] = 1.0
    a = Assignment(treated=treated, blocks=blocks)
    draws = a.draw(np.random.default_rng(0), 2000)
    for b in range(4):
        members = blocks == b
        assert np.all(draws[:, members].sum(axis=1) == treated[members].sum())
    # every vacancy of block 1 (2 of 5 treated) is treated in about 40% of draws
    share = draws[:, blocks == 1].mean(axis=0)
    assert np.all(np.abs(share - 0.4) < 0.05)
    assert a.count() == 3 * 10 * 2 * 20  # C(3,1) C(5,2) C(2,1) C(6,3)
    assert len(list(a.enumerate())) == a.count()


def _draw_by_sorting(a: Assignment, rng: np.random.Generator, n: int) -> np.ndarray:
    """The plain way: sort every key by block and key; the first k_b of a block are drawn."""
    g = len(a.treated)
    k = np.bincount(a.blocks, weights=a.treated, minlength=a.n_blocks)
    start = np.concatenate([[0], np.cumsum(np.bincount(a.blocks, minlength=a.n_blocks))[:-1]])
    order = np.argsort(a.blocks[None, :] + rng.random((n, g)), axis=1, kind="stable")
    rank = np.empty_like(order)
    rank[np.arange(n)[:, None], order] = np.arange(g)[None, :]
    return (rank - start[a.blocks][None, :] < k[a.blocks][None, :]).astype(np.float64)


@pytest.mark.parametrize(
    "sizes",
    [
        [3] * 40,  # small blocks: ranked by pairwise comparison
        [12] * 10,  # larger blocks: ranked by sorting the block matrix
        [60, 2, 2, 2, 2],  # very unequal blocks: one sort of all keys
        [50],  # complete randomisation
    ],
)
def test_draws_equal_the_plain_sort(sizes: list[int]) -> None:
    rng = np.random.default_rng(17)
    blocks = rng.permutation(np.repeat(np.arange(len(sizes)), sizes)).astype(np.intp)
    treated = np.zeros(len(blocks))
    for b in range(len(sizes)):
        members = np.flatnonzero(blocks == b)
        treated[members[: max(1, len(members) // 3)]] = 1.0
    a = Assignment(treated=treated, blocks=blocks)
    drawn = a.draw(np.random.default_rng(5), 200)
    assert np.array_equal(drawn, _draw_by_sorting(a, np.random.default_rng(5), 200))
    # every draw keeps the number of treated vacancies of every block
    for b in range(len(sizes)):
        assert np.all(drawn[:, blocks == b].sum(axis=1) == treated[blocks == b].sum())


def _statistic(kind: str, frame: pd.DataFrame, plan: AnalysisPlan, **kw: object) -> tuple:
    """The fast statistic of a hypothesis and the assignment it is a function of."""
    from pilot_eval.analysis.estimators.randomisation import _GapStatistic, _ShareStatistic

    sample = _sample(frame)
    cells = sample.cells
    first = frame.iloc[cells.first].reset_index(drop=True)
    blocks, _ = pd.factorize(first["block"], sort=True)
    a = Assignment(treated=np.asarray(first["arm"] == "pilot", float), blocks=blocks)
    if kind == "gap_difference":
        return _GapStatistic(cells, a.blocks), a
    z, _ = cells.covariates(frame, tuple(kw.get("adjust_for", ())))  # type: ignore[arg-type]
    return _ShareStatistic(cells.focal_shares(), cells.sizes(), z, a.blocks), a


@pytest.mark.parametrize(
    ("kind", "kw"),
    [("gap_difference", {}), ("pool_share", {}), ("pool_share", {"adjust_for": ["scale"]})],
)
def test_choice_sums_equal_the_statistic_of_the_assignment(
    plan: AnalysisPlan, kind: str, kw: dict
) -> None:
    from pilot_eval.analysis.estimators.randomisation import _Choices

    frame = _bundle(seed=4, n_blocks=30, per_block=3)
    statistic, a = _statistic(kind, frame, plan, **kw)
    choices = _Choices(a)
    drawn = choices.draw(np.random.default_rng(8), 300)
    t = (drawn @ choices.chosen).toarray()  # the same draws as 0/1 per vacancy
    for b in range(a.n_blocks):
        assert np.all(t[:, a.blocks == b].sum(axis=1) == a.treated[a.blocks == b].sum())
    np.testing.assert_allclose(choices.evaluate(statistic)(drawn), statistic(t), rtol=1e-10)
    # and the fast statistic of the observed assignment is lpm_fe refitted (1e-10)
    ctx = _ctx(_plan(plan, draws=200), kind, **kw)
    lpm = estimate("lpm_fe", _sample(frame), ctx).estimate
    assert statistic(a.treated)[0] == pytest.approx(lpm, rel=1e-10)


def test_choices_are_uniform_within_blocks() -> None:
    from pilot_eval.analysis.estimators.randomisation import _Choices

    blocks = np.repeat(np.arange(3), [3, 5, 4]).astype(np.intp)
    treated = np.zeros(12)
    treated[[0, 3, 4, 8]] = 1.0
    a = Assignment(treated=treated, blocks=blocks)
    choices = _Choices(a)
    assert choices.chosen.shape[0] == 3 + 10 + 4  # C(3,1) + C(5,2) + C(4,1)
    t = (choices.draw(np.random.default_rng(2), 20_000) @ choices.chosen).toarray()
    # P(treated) = k_b / n_b for every vacancy: 1/3, 2/5, 1/4; binomial SE below 0.0035
    expected = np.array([1 / 3] * 3 + [2 / 5] * 5 + [1 / 4] * 4)
    assert np.all(np.abs(t.mean(axis=0) - expected) < 0.015)
    # every one of the C(5,2) = 10 pairs of block 1 comes up about equally often
    pairs = t[:, 3:8] @ (2 ** np.arange(5))
    _, freq = np.unique(pairs, return_counts=True)
    assert len(freq) == 10
    assert np.all(np.abs(freq / 20_000 - 0.1) < 0.01)


def test_both_ways_of_redrawing_give_the_exact_p_value(
    plan: AnalysisPlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pilot_eval.analysis.estimators.randomisation import _Choices

    frame = _bundle(seed=3, n_blocks=5, per_block=4)  # 4^5 = 1024 assignments
    exact = estimate("randomisation", _sample(frame), _ctx(_plan(plan, 2000), "gap_difference"))
    ctx = _ctx(_plan(plan, 800), "gap_difference")  # fewer than 1024: drawn
    by_choices = estimate("randomisation", _sample(frame), ctx)
    monkeypatch.setattr(_Choices, "MAX_CHOICES", 0)  # every block too large: rank keys
    by_keys = estimate("randomisation", _sample(frame), ctx)
    assert exact.p_value is not None
    for drawn in (by_choices, by_keys):
        assert drawn.details["exact"] is False
        assert drawn.p_value is not None
        assert abs(drawn.p_value - exact.p_value) < 4 * 0.5 / np.sqrt(800)
    assert by_choices.p_value != by_keys.p_value  # they did take different routes


@pytest.mark.parametrize("seed", [1, 4, 8, 10])
def test_pool_share_covariate_constant_within_blocks_is_absorbed(
    plan: AnalysisPlan, seed: int
) -> None:
    """A covariate constant within every block (levels like 0.1 and 0.7, which leave
    rounding noise when demeaned) is absorbed by the block effects, as in lpm_fe."""
    frame = _bundle(seed=seed, n_blocks=4, per_block=5)  # seeds where the noise bit
    level = frame["block"].map({"B0": 0.1, "B1": 0.7, "B2": 0.3, "B3": 1.3})
    frame = frame.assign(level=level)
    ctx = _ctx(_plan(plan, draws=200), "pool_share", adjust_for=["level"])
    e = estimate("randomisation", _sample(frame), ctx)
    lpm = estimate("lpm_fe", _sample(frame), ctx)
    assert e.estimate == pytest.approx(lpm.estimate, rel=1e-10)
    without = estimate("lpm_fe", _sample(frame), _ctx(_plan(plan, draws=200), "pool_share"))
    assert e.estimate == pytest.approx(without.estimate, rel=1e-10)
