"""Randomisation inference for comparisons between arms (pool_share, gap_difference).

The test statistic is the ``lpm_fe`` estimate. Under the sharp null of no effect on any
application, the assignment of vacancies to arms is the only random element, so the
statistic is recomputed under re-draws of that assignment made exactly as it was done:

* ``block_randomised``: complete randomisation within each block; the number of vacancies
  of the arm in every block stays as observed;
* ``randomised``: complete randomisation over all vacancies of the two arms.

When the number of possible assignments is at most ``randomisation_inference.draws``, all
of them are enumerated and the p-value is exact (the share of assignments at least as
extreme as the observed one, the observed one included). Otherwise ``draws`` assignments
are drawn and p = (1 + extreme) / (1 + draws) (Phipson & Smyth 2010). Draws come in
chunks of 1,000 with one ``SeedSequence(seed).spawn`` child per chunk, so the result does
not depend on how the work is spread. Treatment is never drawn with replacement.

The statistic is computed from per-vacancy sufficient statistics, so one re-draw costs
O(vacancies): for gap_difference the within-vacancy cross-products of focal and outcome;
for pool_share the vacancy shares and sizes. Tests check it against refitting ``lpm_fe``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from pilot_eval.estimators import SCALES, Context, null_hypothesis, register
from pilot_eval.estimators.linear import _independent_columns, demean
from pilot_eval.prepare import ComparisonSample, VacancyCells
from pilot_eval.results import Estimate, not_estimable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

CHUNK = 1_000
SMALL_BLOCK = 8
"""Blocks up to this size are ranked by comparing keys pairwise, larger ones by sorting."""
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Assignment:
    """The observed assignment of vacancies and how it was drawn.

    Attributes
    ----------
    treated:
        1.0 where the vacancy is in the arm, 0.0 in the reference arm; shape (G,).
    blocks:
        Block code per vacancy, 0..n_blocks-1 (one block for complete randomisation).
    """

    treated: FloatArray
    blocks: IntArray

    @property
    def n_blocks(self) -> int:
        """Number of blocks."""
        return int(self.blocks.max()) + 1

    def count(self) -> int:
        """Number of possible assignments: the product over blocks of C(n_b, k_b)."""
        total = 1
        for b in range(self.n_blocks):
            members = self.blocks == b
            total *= math.comb(int(members.sum()), int(self.treated[members].sum()))
        return total

    def enumerate(self) -> Iterator[FloatArray]:
        """Every possible assignment (use only when ``count()`` is small)."""
        per_block = []
        for b in range(self.n_blocks):
            members = np.flatnonzero(self.blocks == b)
            k = int(self.treated[members].sum())
            per_block.append(
                [members[list(c)] for c in itertools.combinations(range(len(members)), k)]
            )
        for choice in itertools.product(*per_block):
            t = np.zeros(len(self.treated))
            for idx in choice:
                t[idx] = 1.0
            yield t

    def draw(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` re-drawn assignments, shape (n, G): complete randomisation within blocks.

        Each vacancy gets a U(0, 1) key; in every block the vacancies with the k_b smallest
        keys are in the arm. Ranks within blocks come from sorting a (blocks x largest
        block) matrix of keys, O(G log b) per draw for blocks of size b; with very unequal
        blocks, where that matrix would be large, from one sort of all keys by block and
        key. Both give the same assignments from the same keys.
        """
        g = len(self.treated)
        sizes = np.bincount(self.blocks, minlength=self.n_blocks)
        k = np.bincount(self.blocks, weights=self.treated, minlength=self.n_blocks)
        start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        keys = rng.random((n, g))
        width = int(sizes.max())
        if self.n_blocks * width <= 4 * g:
            by_block = np.argsort(self.blocks, kind="stable")
            slot = self.blocks[by_block] * width + (np.arange(g) - start[self.blocks[by_block]])
            padded = np.full((n, self.n_blocks * width), np.inf)
            padded[:, slot] = keys[:, by_block]
            cube = padded.reshape(n, self.n_blocks, width)
            ranks: npt.NDArray[np.integer[Any]]
            if width <= SMALL_BLOCK:  # a rank is the number of smaller keys in the block
                ranks = np.zeros(cube.shape, dtype=np.int16)
                for j in range(width):
                    ranks += cube[:, :, j : j + 1] < cube
            else:
                ranks = np.argsort(np.argsort(cube, axis=2), axis=2)
            flat = ranks.reshape(n, -1)
            drawn: FloatArray = np.empty((n, g))
            drawn[:, by_block] = flat[:, slot] < k[self.blocks[by_block]][None, :]
            return drawn
        # sorting block + U(0,1) keys groups vacancies by block in random order within it
        order = np.argsort(self.blocks[None, :] + keys, axis=1, kind="stable")
        rank = np.empty_like(order)
        rows = np.arange(n)[:, None]
        rank[rows, order] = np.arange(g)[None, :]
        within = rank - start[self.blocks][None, :]
        drawn = (within < k[self.blocks][None, :]).astype(np.float64)
        return drawn


class _GapStatistic:
    """lpm_fe's interaction estimate as a function of the assignment (gap_difference)."""

    def __init__(self, cells: VacancyCells) -> None:
        v, focal, success, count, _ = cells.rows()
        g = cells.n_vacancies
        x = demean(focal, v, g, count)
        y = demean(success, v, g, count)
        self.s11 = np.bincount(v, weights=count * x * x, minlength=g)
        self.s1y = np.bincount(v, weights=count * x * y, minlength=g)

    def __call__(self, t: FloatArray) -> FloatArray:
        """Statistic for each row of ``t`` (shape (D, G) or (G,))."""
        big_a, small_a = self.s11.sum(), self.s1y.sum()
        big_b, small_b = t @ self.s11, t @ self.s1y
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = small_b / big_b - (small_a - small_b) / (big_a - big_b)
        return result


class _ShareStatistic:
    """lpm_fe's pool-share estimate as a function of the assignment (pool_share)."""

    def __init__(self, y: FloatArray, w: FloatArray, z: FloatArray, blocks: IntArray) -> None:
        self.w, self.blocks = w, blocks
        self.n_blocks = int(blocks.max()) + 1
        g = len(w)
        self.indicator = sparse.csr_matrix(
            (np.ones(g), (blocks, np.arange(g))), shape=(self.n_blocks, g)
        )
        self.total_w = np.bincount(blocks, weights=w, minlength=self.n_blocks)
        self.y = demean(y, blocks, self.n_blocks, w)
        zb = demean(z, blocks, self.n_blocks, w) if z.size else z
        self.z = zb[:, _independent_columns(zb, w)] if z.size else zb

    def __call__(self, t: FloatArray) -> FloatArray:
        """Statistic for each row of ``t`` (shape (D, G))."""
        t2 = np.atleast_2d(t)
        # block means of the weighted assignment, O(D x G) through the sparse indicator
        sums = np.asarray(self.indicator @ (t2 * self.w).T).T
        td = t2 - (sums / self.total_w)[:, self.blocks]
        if self.z.size:
            zw = self.z * self.w[:, None]
            coef = np.linalg.solve(self.z.T @ zw, (td @ zw).T).T
            td = td - coef @ self.z.T
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = (td * self.w) @ self.y / ((td * self.w) * td).sum(axis=1)
        return result


@register("randomisation", "pool_share", "gap_difference")
def randomisation(sample: ComparisonSample, ctx: Context) -> Estimate:
    """Randomisation-inference p-value of the lpm_fe estimate (see module docstring)."""
    name = "randomisation"
    plan, h = ctx.plan, ctx.hypothesis
    frame = sample.frame
    null = (
        "sharp null: the assignment of vacancies to arms has no effect on any application ("
        + null_hypothesis(ctx)
        + ")"
    )
    cells = sample.cells
    n_vac, n_app = cells.n_vacancies, len(frame)

    def refuse(reason: str) -> Estimate:
        return not_estimable(name, SCALES[name], null, reason, n_vac, n_app)

    settings = plan.randomisation_inference
    if settings is None:  # the plan's checks require it for randomised designs
        return refuse("the plan has no randomisation_inference settings")
    first = frame.iloc[cells.first].reset_index(drop=True)
    treated = np.asarray(first["arm"] == plan.arm_of(h), dtype=np.float64)
    if plan.design.assignment == "block_randomised" and plan.design.block:
        blocks, _ = pd.factorize(first[plan.design.block].astype("str"), sort=True)
    else:
        blocks = np.zeros(n_vac, dtype=np.intp)
    assignment = Assignment(treated=treated, blocks=blocks.astype(np.intp))
    statistic: Callable[[FloatArray], FloatArray]
    if h.kind == "gap_difference":
        statistic = _GapStatistic(cells)
    else:
        z = _covariates(first, h.adjust_for)
        statistic = _ShareStatistic(cells.focal_shares(), cells.sizes(), z, assignment.blocks)
    observed = float(statistic(treated[None, :])[0])
    if not math.isfinite(observed):
        return refuse("the lpm_fe statistic is not defined for the observed assignment")
    possible = assignment.count()
    exact = possible <= settings.draws
    if exact:
        values = statistic(np.array(list(assignment.enumerate())))
        extreme = _extreme(values, observed, h.alternative)
        p = extreme / len(values)
        used = len(values)
    else:
        extreme = 0
        children = np.random.SeedSequence(settings.seed).spawn(math.ceil(settings.draws / CHUNK))
        for i, child in enumerate(children):
            n = min(CHUNK, settings.draws - i * CHUNK)
            values = statistic(assignment.draw(np.random.default_rng(child), n))
            extreme += _extreme(values, observed, h.alternative)
        p = (1 + extreme) / (1 + settings.draws)
        used = settings.draws
    return Estimate(
        estimator=name,
        scale=SCALES[name],
        null_hypothesis=null,
        estimate=observed,
        statistic=observed,
        statistic_name="lpm_fe estimate",
        p_value=p,
        n_vacancies=n_vac,
        n_applications=n_app,
        details={
            "assignments_possible": possible if possible < 10**15 else None,
            "exact": exact,
            "assignments_used": used,
            "as_extreme": extreme,
            "seed": None if exact else settings.seed,
            "mechanism": "complete randomisation within blocks"
            if plan.design.assignment == "block_randomised"
            else "complete randomisation",
        },
    )


def _covariates(first: pd.DataFrame, columns: tuple[str, ...]) -> FloatArray:
    parts: list[FloatArray] = []
    for col in columns:
        values = first[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            parts.append(np.asarray(values, dtype=np.float64)[:, None])
        else:
            dummies = pd.get_dummies(values.astype("str"), drop_first=True)
            parts.append(dummies.to_numpy(dtype=np.float64))
    if not parts:
        return np.empty((len(first), 0))
    return np.hstack(parts)


def _extreme(values: FloatArray, observed: float, alternative: str) -> int:
    """How many statistics are at least as extreme as the observed one."""
    tol = _TOLERANCE * max(1.0, abs(observed))
    finite = values[np.isfinite(values)]
    if alternative == "greater":
        return int(np.sum(finite >= observed - tol))
    if alternative == "less":
        return int(np.sum(finite <= observed + tol))
    return int(np.sum(np.abs(finite) >= abs(observed) - tol))
