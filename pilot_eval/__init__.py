"""pilot-eval: pre-registered evaluation of the pilot "breed werven en objectief selecteren"."""

from __future__ import annotations

__version__ = "0.1.0"
