"""The report: rendering with Jinja (``render``), the answers to Parliament's questions
(``answers``), the figures (``figures``), and the templates and catalogues
(``templates/``)."""
