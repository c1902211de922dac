"""What a reviewer uses: re-running and comparing an output folder (``verify``), with a
tolerance for floating-point noise (``tolerance``), and the reviewer's archive (``archive``)."""
