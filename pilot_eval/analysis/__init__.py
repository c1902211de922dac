"""The analysis of the plan's hypotheses: estimators, inference and verdicts, robustness,
bounds for missing data and later stages, contradictions, descriptives, design checks and
the other evidence."""
