"""The README's table of commands names every command and every option of each."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from pilot_eval.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _rows() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        match = re.match(r"\| `pilot-eval ([a-z-]+)", line)
        if match:
            rows[match.group(1)] = line
    return rows


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_of_a_command_is_in_its_readme_row(name: str) -> None:
    rows = _rows()
    assert name in rows, f"README.md has no row for pilot-eval {name}"
    command = cli.commands[name]
    for param in command.params:
        if isinstance(param, click.Option):
            for flag in [*param.opts, *param.secondary_opts]:
                if flag.startswith("--"):
                    assert flag in rows[name], f"README.md: pilot-eval {name} lacks {flag}"


def test_environment_variables_are_in_the_readme() -> None:
    from pilot_eval.cli import DEBUG_VARIABLE
    from pilot_eval.report.render import TEMPLATES_VARIABLE

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for variable in (DEBUG_VARIABLE, TEMPLATES_VARIABLE):
        assert f"| `{variable}` |" in text
