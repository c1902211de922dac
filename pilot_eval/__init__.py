"""pilot-eval: pre-registered evaluation of the pilot "breed werven en objectief selecteren".

The Python interface (``docs/api.md``): :func:`validate` checks a plan and a data bundle,
:func:`run_plan` runs the locked plan and writes results, report and manifest, and
:func:`verify` re-runs an output folder from its manifest and compares.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pilot_eval.api import (
    RunOutcome,
    Validation,
    plan_schema,
    read_results,
    results_schema,
    run_plan,
    validate,
    verify,
)

__all__ = [
    "RunOutcome",
    "Validation",
    "__version__",
    "plan_schema",
    "read_results",
    "results_schema",
    "run_plan",
    "validate",
    "verify",
]
