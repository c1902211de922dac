"""The analysis plan: its model and validation (``model``) and its lock by hash (``lock``)."""
