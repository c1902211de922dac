"""The data bundle: reading files (``files``), the tables' rules (``tables``), loading and
validating a bundle (``bundle``), the analysis frame and comparison samples (``frame``), and
the summary ``pilot-eval validate`` prints (``summary``)."""
