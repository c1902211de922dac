"""The commands' work from inputs to an output folder: the run (``run``), the design
diagnosis (``diagnose``), the open-data export (``export``), and writing an output folder
completely or not at all, with its manifest (``outputs``)."""
