"""Disclosure control: the small-cell rules tables are protected by (``cells``), withholding
in results (``withhold``), the joint audit of published counts (``audit``), the release
register (``releases``) and the anonymised open data (``opendata``).

Below ``analysis``: the analysis protects its tables where it makes them."""
