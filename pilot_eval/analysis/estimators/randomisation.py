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
When every block has at most ``_Choices.MAX_CHOICES`` possible choices of its treated
vacancies (pairs, triplets, small strata), a re-draw picks one choice per block and adds
precomputed sums, O(blocks) per draw; otherwise U(0, 1) keys are ranked within blocks.
Both draw from the same distribution; a test compares each with the exact p-value.
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

from pilot_eval.analysis.estimators import SCALES, Context, null_hypothesis, register
from pilot_eval.analysis.estimators.linear import _independent_columns, demean
from pilot_eval.analysis.results import Estimate, not_estimable
from pilot_eval.data.frame import ComparisonSample, VacancyCells
from pilot_eval.plan.model import Hypothesis, RandomisationInference
from pilot_eval.progress import progress

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

CHUNK = 1_000
SMALL_BLOCK = 8
"""Blocks up to this size are ranked by comparing keys pairwise, larger ones by sorting."""
_TOLERANCE = 1e-12
_ABSORBED = 1e-9
"""Relative size below which a demeaned column or residual variation counts as zero."""


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

    def sizes(self) -> tuple[IntArray, IntArray]:
        """Vacancies and treated vacancies per block."""
        sizes = np.bincount(self.blocks, minlength=self.n_blocks)
        k = np.bincount(self.blocks, weights=self.treated, minlength=self.n_blocks)
        return sizes, np.rint(k).astype(np.intp)

    def choices_per_block(self) -> list[int]:
        """C(n_b, k_b) for every block."""
        return [math.comb(int(n), int(k)) for n, k in zip(*self.sizes(), strict=True)]

    def count(self) -> int:
        """Number of possible assignments: the product over blocks of C(n_b, k_b)."""
        return math.prod(self.choices_per_block())

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


class _Statistic:
    """The lpm_fe estimate as a function of the assignment ``t`` (0/1 per vacancy).

    Every statistic here is ``finish(t @ features, square(t))``: linear sums over the
    treated vacancies of per-vacancy features, and, where the block means of ``t`` enter,
    ``square(t)``, the sum over blocks of (treated weight in the block)^2 / (block weight).
    Both are sums over blocks, so they can also be built from one precomputed value per
    possible choice of treated vacancies within each block (:class:`_Choices`).
    """

    features: FloatArray
    """Per-vacancy features, shape (G, m)."""
    square_weights: FloatArray | None = None
    """Weights of the block-square term; None when the statistic does not use it."""
    blocks: IntArray

    def finish(self, linear: FloatArray, square: FloatArray) -> FloatArray:
        """The statistic from the linear sums (D, m) and the block-square terms (D,)."""
        raise NotImplementedError

    def square(self, t: FloatArray) -> FloatArray:
        """Sum over blocks of (sum of w over the treated)^2 / (sum of w), for each row."""
        if self.square_weights is None:
            return np.zeros(len(t))
        w = self.square_weights
        n_blocks = int(self.blocks.max()) + 1
        indicator = sparse.csr_matrix(
            (w, (self.blocks, np.arange(len(w)))), shape=(n_blocks, len(w))
        )
        treated_w = np.asarray(indicator @ t.T)  # (blocks, D)
        total_w = np.bincount(self.blocks, weights=w, minlength=n_blocks)
        result: FloatArray = _block_square(treated_w, total_w[:, None]).sum(axis=0)
        return result

    def __call__(self, t: FloatArray) -> FloatArray:
        """Statistic for each row of ``t`` (shape (D, G) or (G,))."""
        t2 = np.atleast_2d(t)
        return self.finish(t2 @ self.features, self.square(t2))


def _block_square(treated_w: npt.NDArray[Any], total_w: npt.NDArray[Any]) -> FloatArray:
    """(treated weight)^2 / (block weight), 0 for a block without weight."""
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(total_w > 0, treated_w**2 / total_w, 0.0)
    return result


class _GapStatistic(_Statistic):
    """lpm_fe's interaction estimate (gap_difference).

    With focal x and outcome y demeaned within vacancies, the estimate is
    b/B - (a - b)/(A - B), where B and b sum the within-vacancy cross-products x'x and x'y
    over the treated vacancies and A and a over all of them.
    """

    def __init__(self, cells: VacancyCells, blocks: IntArray) -> None:
        v, focal, success, count, _ = cells.rows()
        g = cells.n_vacancies
        x = demean(focal, v, g, count)
        y = demean(success, v, g, count)
        s11 = np.bincount(v, weights=count * x * x, minlength=g)
        s1y = np.bincount(v, weights=count * x * y, minlength=g)
        self.features = np.column_stack([s11, s1y])
        self.total = self.features.sum(axis=0)
        self.blocks = blocks

    def finish(self, linear: FloatArray, square: FloatArray) -> FloatArray:
        (big_a, small_a), big_b, small_b = self.total, linear[:, 0], linear[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = small_b / big_b - (small_a - small_b) / (big_a - big_b)
        return result


class _ShareStatistic(_Statistic):
    """lpm_fe's pool-share estimate (pool_share): the weighted regression of the vacancy's
    focal share y on the assignment t, block effects and covariates z, weights w (size).

    By Frisch-Waugh-Lovell, with M the weighted residual maker of [blocks, z] and
    z~ the block-demeaned covariates: estimate = t'W(My) / t'WMt, where
    t'WMt = t'Wt - square(t) - u'(z~'Wz~)^-1 u with u = z~'Wt; t'Wt = sum of w over the
    treated because t is 0/1. Every piece is a sum over the treated vacancies or a block
    square.
    """

    def __init__(self, y: FloatArray, w: FloatArray, z: FloatArray, blocks: IntArray) -> None:
        self.blocks, self.square_weights = blocks, w
        n_blocks = int(blocks.max()) + 1
        yb = demean(y, blocks, n_blocks, w)
        zb = demean(z, blocks, n_blocks, w) if z.size else np.empty((len(w), 0))
        if zb.size:
            # a covariate constant within every block is absorbed by the block effects;
            # demeaned, only rounding noise is left, which must not enter as a regressor
            before = np.sqrt((w[:, None] * z**2).sum(axis=0))
            after = np.sqrt((w[:, None] * zb**2).sum(axis=0))
            zb = zb[:, after > _ABSORBED * before]
            zb = zb[:, _independent_columns(zb, w)] if zb.size else zb
        self.cross = zb.T @ (zb * w[:, None])
        residual = yb - zb @ np.linalg.solve(self.cross, zb.T @ (w * yb)) if zb.size else yb
        self.features = np.column_stack([w * residual, w, zb * w[:, None]])

    def finish(self, linear: FloatArray, square: FloatArray) -> FloatArray:
        u = linear[:, 2:]
        explained = (u * np.linalg.solve(self.cross, u.T).T).sum(axis=1) if u.size else 0.0
        residual = linear[:, 1] - square - explained  # t'WMt
        # no variation of the assignment left beyond blocks and covariates: not identified
        identified = residual > _ABSORBED * linear[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            result: FloatArray = np.where(identified, linear[:, 0] / residual, np.nan)
        return result


class _Choices:
    """Every possible choice of the treated vacancies within each block, for designs with
    many small blocks: a re-draw is then one uniform choice per block, and the statistic's
    sums add one precomputed row per block, O(blocks) per draw instead of O(vacancies).

    Used when no block has more than ``MAX_CHOICES`` possible choices; gives the same
    distribution of assignments as :meth:`Assignment.draw` (complete randomisation within
    blocks), from different random numbers.
    """

    MAX_CHOICES = 256

    def __init__(self, assignment: Assignment) -> None:
        order = np.argsort(assignment.blocks, kind="stable")
        sizes, k = assignment.sizes()
        rows: list[tuple[int, ...]] = []
        owner: list[int] = []
        for b, members in enumerate(np.split(order, np.cumsum(sizes)[:-1])):
            combos = list(itertools.combinations(members.tolist(), int(k[b])))
            rows.extend(combos)
            owner.extend([b] * len(combos))
        self.counts = np.array(assignment.choices_per_block(), dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        self.block_of = np.asarray(owner, dtype=np.intp)
        lengths = np.array([len(r) for r in rows], dtype=np.intp)
        self.chosen = sparse.csr_matrix(
            (
                np.ones(int(lengths.sum())),
                np.fromiter(itertools.chain.from_iterable(rows), dtype=np.intp),
                np.concatenate([[0], np.cumsum(lengths)]),
            ),
            shape=(len(rows), len(assignment.treated)),
        )
        """One row per choice, 1.0 at its treated vacancies."""
        # blocks with the same number of choices draw together (one call per number)
        self.by_count = [(int(c), np.flatnonzero(self.counts == c)) for c in np.unique(self.counts)]

    @classmethod
    def fits(cls, assignment: Assignment) -> bool:
        """Whether every block has few enough possible choices."""
        return max(assignment.choices_per_block()) <= cls.MAX_CHOICES

    def draw(self, rng: np.random.Generator, n: int) -> sparse.csr_matrix:
        """``n`` re-draws as a (n, choices) 0/1 matrix with one choice per block per row."""
        nb = len(self.counts)
        index = np.int32 if self.chosen.shape[0] < 2**31 else np.int64  # scipy's own width
        if len(self.by_count) == 1:
            picked = rng.integers(0, self.by_count[0][0], size=(n, nb), dtype=index)
        else:
            picked = np.empty((n, nb), dtype=index)
            for count, blocks in self.by_count:
                picked[:, blocks] = rng.integers(0, count, size=(n, len(blocks)), dtype=index)
        picked += self.offsets.astype(index)
        return sparse.csr_matrix(
            (np.ones(n * nb), picked.ravel(), np.arange(0, n * nb + 1, nb, dtype=index)),
            shape=(n, self.chosen.shape[0]),
        )

    def evaluate(self, statistic: _Statistic) -> Callable[[sparse.csr_matrix], FloatArray]:
        """The statistic of drawn choices: one row of sums per choice, added per draw."""
        linear = np.asarray(self.chosen @ statistic.features)
        if statistic.square_weights is None:
            square = np.zeros(len(linear))
        else:
            w = statistic.square_weights
            total_w = np.bincount(statistic.blocks, weights=w)[self.block_of]
            square = _block_square(self.chosen @ w, total_w)
        per_choice = np.column_stack([linear, square])

        def value(drawn: sparse.csr_matrix) -> FloatArray:
            sums = np.asarray(drawn @ per_choice)
            return statistic.finish(sums[:, :-1], sums[:, -1])

        return value


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
    assignment, statistic = _assignment_and_statistic(sample, ctx)
    observed = float(statistic(assignment.treated[None, :])[0])
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
        extreme = _as_extreme_in_draws(assignment, statistic, observed, h, settings)
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


def _assignment_and_statistic(
    sample: ComparisonSample, ctx: Context
) -> tuple[Assignment, _Statistic]:
    """The observed assignment of the sample's vacancies (within blocks where the design
    has them) and the lpm_fe statistic as a function of an assignment."""
    plan, h, cells, frame = ctx.plan, ctx.hypothesis, sample.cells, sample.frame
    first = frame.iloc[cells.first].reset_index(drop=True)
    treated = np.asarray(first["arm"] == plan.arm_of(h), dtype=np.float64)
    if plan.design.assignment == "block_randomised" and plan.design.block:
        blocks, _ = pd.factorize(first[plan.design.block].astype("str"), sort=True)
    else:
        blocks = np.zeros(cells.n_vacancies, dtype=np.intp)
    assignment = Assignment(treated=treated, blocks=blocks.astype(np.intp))
    statistic: _Statistic
    if h.kind == "gap_difference":
        statistic = _GapStatistic(cells, assignment.blocks)
    else:
        z, _ = cells.covariates(frame, h.adjust_for)
        statistic = _ShareStatistic(cells.focal_shares(), cells.sizes(), z, assignment.blocks)
    return assignment, statistic


def _as_extreme_in_draws(
    assignment: Assignment,
    statistic: _Statistic,
    observed: float,
    h: Hypothesis,
    settings: RandomisationInference,
) -> int:
    """How many of the plan's seeded random re-assignments give a statistic at least as
    extreme as the observed one (in chunks, each from its own child seed)."""
    extreme = 0
    children = np.random.SeedSequence(settings.seed).spawn(math.ceil(settings.draws / CHUNK))
    redraw = _redraws(assignment, statistic)
    with progress(f"randomisation {h.id}", settings.draws, "draws") as advance:
        for i, child in enumerate(children):
            n = min(CHUNK, settings.draws - i * CHUNK)
            values = redraw(np.random.default_rng(child), n)
            extreme += _extreme(values, observed, h.alternative)
            advance(n)
    return extreme


def _redraws(
    assignment: Assignment, statistic: _Statistic
) -> Callable[[np.random.Generator, int], FloatArray]:
    """The statistic under ``n`` re-drawn assignments, by choices per block where all blocks
    are small and by ranking U(0, 1) keys otherwise."""
    if _Choices.fits(assignment):
        choices = _Choices(assignment)
        value = choices.evaluate(statistic)
        return lambda rng, n: value(choices.draw(rng, n))
    return lambda rng, n: statistic(assignment.draw(rng, n))


def _extreme(values: FloatArray, observed: float, alternative: str) -> int:
    """How many statistics are at least as extreme as the observed one."""
    tol = _TOLERANCE * max(1.0, abs(observed))
    finite = values[np.isfinite(values)]
    if alternative == "greater":
        return int(np.sum(finite >= observed - tol))
    if alternative == "less":
        return int(np.sum(finite <= observed + tol))
    return int(np.sum(np.abs(finite) >= abs(observed) - tol))
