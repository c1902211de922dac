"""What a design can show before the outcomes: minimum detectable effects (``power``),
synthetic bundles with known effects (``simulate``, ``simulate_evidence``) and the design
diagnosis by simulation (``diagnosis``)."""
