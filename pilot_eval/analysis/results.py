"""Result records and their JSON form.

Numbers in ``results.json`` are rounded to 12 significant digits, so that the file is
byte-identical for identical inputs and software, and the last bits of floating-point
arithmetic do not show. Missing numbers (not defined, not estimable) are ``null``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

SIGNIFICANT_DIGITS = 12


@dataclass(frozen=True)
class Estimate:
    """The outcome of one estimator for one hypothesis.

    Attributes
    ----------
    estimator:
        Name from the registry (``difference_pooled``...).
    scale:
        ``difference``, ``odds_ratio``, ``ratio`` or ``smd`` (standardised mean difference).
    estimate, std_error, ci_low, ci_high, statistic, df, p_value:
        The numbers; None where not defined for this estimator.
    statistic_name:
        ``z``, ``t``, ``chi2``...
    null_hypothesis:
        The null hypothesis in words.
    n_vacancies, n_applications:
        What the estimator used.
    reason:
        Why it could not be estimated; None when it was.
    details:
        Estimator-specific extra numbers (cell counts, rates, ...), JSON-serialisable.
    """

    estimator: str
    scale: str
    null_hypothesis: str
    estimate: float | None = None
    std_error: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    statistic_name: str | None = None
    df: float | None = None
    p_value: float | None = None
    n_vacancies: int = 0
    n_applications: int = 0
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def estimable(self) -> bool:
        """True when an estimate and a p-value were computed."""
        return self.reason is None and self.estimate is not None and self.p_value is not None

    def as_json(self) -> dict[str, Any]:
        """The entry of ``estimates`` in results.json."""
        return {
            "estimator": self.estimator,
            "scale": self.scale,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "statistic": self.statistic,
            "statistic_name": self.statistic_name,
            "df": self.df,
            "p_value": self.p_value,
            "n_vacancies": self.n_vacancies,
            "n_applications": self.n_applications,
            "null_hypothesis": self.null_hypothesis,
            "reason": self.reason,
            "details": self.details,
        }


def not_estimable(
    estimator: str,
    scale: str,
    null: str,
    reason: str,
    n_vacancies: int = 0,
    n_applications: int = 0,
) -> Estimate:
    """An estimate that could not be computed, with the reason in words."""
    return Estimate(
        estimator=estimator,
        scale=scale,
        null_hypothesis=null,
        reason=reason,
        n_vacancies=n_vacancies,
        n_applications=n_applications,
    )


def clean_number(value: Any) -> Any:
    """Round floats to ``SIGNIFICANT_DIGITS`` and turn NaN and infinities into None."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value == 0.0:
            return 0.0
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {str(k): clean_number(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_number(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return clean_number(value.item())
    return value


def dumps(data: dict[str, Any]) -> str:
    """Serialise results deterministically: cleaned numbers, sorted keys, two-space indent."""
    return json.dumps(clean_number(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
