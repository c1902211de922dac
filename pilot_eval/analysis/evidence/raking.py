"""Raking (iterative proportional fitting) of weights to known margins, and trimming.

Raking multiplies the weights, one margin at a time, so that the weighted count of every
category of that margin equals its known total, and repeats until every margin fits
(Deming & Stephan 1940). It is what R's ``survey::rake`` does; the tests compare the two.
No maintained Python implementation fits: statsmodels has none, and samplics, which had
one, is archived. Trimming follows ``survey::trimWeights``: weights above the bound are
set to it and the excess is shared equally by the other weights, repeated until no weight
exceeds the bound (``strict = TRUE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pilot_eval.errors import EstimationError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Raked:
    """Weights raked to margins.

    Attributes
    ----------
    weights:
        The raked weights, shape (n,).
    iterations:
        Passes over all margins until the largest relative misfit was below the tolerance.
    max_misfit:
        Largest |weighted count - target| / target over all categories at the end.
    """

    weights: FloatArray
    iterations: int
    max_misfit: float


def rake(
    base: FloatArray,
    margins: Sequence[IntArray],
    targets: Sequence[FloatArray],
    tolerance: float = 1e-10,
    max_iterations: int = 1000,
) -> Raked:
    """Rake ``base`` weights so that each margin's weighted counts equal its targets.

    Parameters
    ----------
    base:
        Starting weights of the n respondents, shape (n,), positive.
    margins:
        For each margin, the category code (0..m-1) of every respondent, shape (n,).
    targets:
        For each margin, the known total of every category, shape (m,).

    Raises
    ------
    EstimationError
        When a category with a positive target has no respondent, or raking does not
        converge (margins that contradict each other).
    """
    w = np.asarray(base, dtype=np.float64).copy()
    for k, (codes, target) in enumerate(zip(margins, targets, strict=True)):
        have = np.bincount(codes, minlength=len(target))
        empty = (have == 0) & (target > 0)
        if empty.any():
            raise EstimationError(
                f"margin {k + 1}: a category with a known total has no respondent "
                f"(category {int(np.flatnonzero(empty)[0])})"
            )
    misfit = np.inf
    for iteration in range(1, max_iterations + 1):
        for codes, target in zip(margins, targets, strict=True):
            current = np.bincount(codes, weights=w, minlength=len(target))
            factor = np.divide(target, current, out=np.zeros_like(current), where=current > 0)
            w = w * factor[codes]
        misfit = 0.0
        for codes, target in zip(margins, targets, strict=True):
            current = np.bincount(codes, weights=w, minlength=len(target))
            positive = target > 0
            if positive.any():
                misfit = max(
                    misfit,
                    float(np.max(np.abs(current[positive] - target[positive]) / target[positive])),
                )
        if misfit < tolerance:
            return Raked(weights=w, iterations=iteration, max_misfit=misfit)
    raise EstimationError(
        f"raking did not converge in {max_iterations} passes (misfit {misfit:.2g}): the "
        "margins contradict each other"
    )


def trim(weights: FloatArray, upper: float, max_rounds: int = 1000) -> tuple[FloatArray, int]:
    """Cap weights at ``upper`` and share the excess equally among the others, until none
    exceeds it (``survey::trimWeights(strict = TRUE)``).

    Returns the trimmed weights (same sum) and how many weights were capped.
    """
    w = np.asarray(weights, dtype=np.float64).copy()
    if upper * w.size < w.sum():
        raise EstimationError("the trimming bound is below the mean weight: it cannot be met")
    capped = np.zeros(w.size, dtype=bool)
    for _ in range(max_rounds):
        outside = w > upper * (1 + 1e-12)
        if not outside.any():
            break
        capped |= outside
        excess = float(np.sum(w[outside] - upper))
        w[outside] = upper
        inside = ~outside
        w[inside] += excess / inside.sum()
    return w, int(capped.sum())


def kish_design_effect(weights: FloatArray) -> float:
    """Kish's design effect of unequal weights, n * sum(w^2) / sum(w)^2 (1 when equal)."""
    w = np.asarray(weights, dtype=np.float64)
    return float(w.size * np.sum(w**2) / np.sum(w) ** 2)
