"""No published count below the plan's minimum, in results.json or the report."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.cli import main
from pilot_eval.privacy.withhold import protect_results

PLAN_NAME = "breed-werven-2024.yaml"
COUNT_KEYS = {"n", "count", "passed", "rows", "n_applications", "n_not_reported"}


def _counts(node: Any, skip: frozenset[str] = frozenset({"plan", "software"})) -> list[int]:
    found: list[int] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in skip:
                continue
            if key in COUNT_KEYS and isinstance(value, int) and not isinstance(value, bool):
                found.append(value)
            found += _counts(value, skip)
    elif isinstance(node, list):
        for item in node:
            found += _counts(item, skip)
    return found


def test_protect_results_hides_small_counts_and_their_shares() -> None:
    results: dict[str, Any] = {
        "hypotheses": [
            {
                "n_applications": 8,
                "exclusions": [{"reason": "r", "rows": 3}, {"reason": "s", "rows": 40}],
                "estimates": {
                    "e": {"details": {"focal": {"n": 9, "passed": 2, "rate": 2 / 9}}},
                },
            }
        ],
        "plan": {"n": 1},
    }
    hidden = protect_results(results, Results, 10)
    h = results["hypotheses"][0]
    assert h["n_applications"] is None
    assert [e["rows"] for e in h["exclusions"]] == [None, 40]
    assert h["estimates"]["e"]["details"]["focal"] == {"n": None, "passed": None, "rate": None}
    assert results["plan"] == {"n": 1}
    assert hidden == 5


def test_applications_off_support_are_counts_of_persons() -> None:
    # the weighting summary beside a robustness row: 'rows' was hidden, this one was not
    results: dict[str, Any] = {
        "robustness": [
            {
                "weighting": {"margins": [], "applications_off_support": 4, "arms": {}},
                "exclusions": [{"reason": "off support", "rows": 4}],
            }
        ]
    }
    assert protect_results(results, Results, 10) == 2
    row = results["robustness"][0]
    assert row["weighting"]["applications_off_support"] is None
    assert row["exclusions"][0]["rows"] is None


def test_what_counts_persons_follows_the_record_not_the_name() -> None:
    # 'n' of a balance category counts vacancies; 'n' of a survey response counts persons
    results: dict[str, Any] = {
        "diagnostics": {
            "balance": {
                "comparisons": {
                    "pilot": {
                        "covariates": {
                            "d": {
                                "type": "categorical",
                                "categories": {
                                    "AZ": {"n": {"pilot": 3, "control": 4}, "share": {"pilot": 0.1}}
                                },
                            }
                        }
                    }
                }
            }
        },
        "evidence": {
            "survey": {
                "response": [{"arm": "pilot", "n": 4, "responded": 12, "response_rate": 0.5}]
            }
        },
    }
    assert protect_results(results, Results, 10) == 2
    covariate = results["diagnostics"]["balance"]["comparisons"]["pilot"]["covariates"]["d"]
    assert covariate["categories"]["AZ"]["n"] == {"pilot": 3, "control": 4}
    assert results["evidence"]["survey"]["response"][0] == {
        "arm": "pilot",
        "n": None,
        "responded": 12,
        "response_rate": None,
    }


def test_small_bundle_publishes_no_small_count(
    plan_dir: Path, bundle_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        main(["run", str(plan_dir / PLAN_NAME), "--data", str(bundle_dir), "--out", str(out)])
    assert info.value.code == 0, capsys.readouterr().err
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    counts = _counts(results)
    assert counts, "the walk found no counts"
    assert all(c == 0 or c >= 10 for c in counts), sorted(set(counts))
    assert results["suppressed_cells"] > 0
    # in the report, hidden counts show as "×": applications per arm and the exclusion ledger
    html = (out / "report.nl.html").read_text(encoding="utf-8")
    design = html[html.index('id="design"') : html.index('id="plan"')]
    rows = re.findall(
        r"<tr><td>(\w+)(?: \([^)]*\))?</td><td class=\"num\">(\d+)</td>"
        r"<td class=\"num\">([^<]+)</td></tr>",
        design,
    )
    assert [r[2] for r in rows] == ["×", "×"], rows
    start = html.index("Niet gebruikte sollicitaties")
    ledger = html[start : html.index("</table>", start)]
    cells = re.findall(r'<td class="num">(?:<em>)?([^<]+?)(?:</em>)?</td>', ledger)
    assert cells
    assert all(c == "×" or int(c.replace(".", "")) >= 10 for c in cells), cells


def test_survey_weights_do_not_give_hidden_counts_back() -> None:
    # the sum of the weights equals the population, effective respondents times the design
    # effect the respondents: hidden with those counts
    weighting = {
        "margins": [],
        "respondents": 4,
        "population": 5,
        "sum_of_weights": 5.0,
        "effective_respondents": 3.2,
        "design_effect": 1.25,
    }
    results: dict[str, Any] = {"evidence": {"survey": {"weighting": weighting}}}
    assert protect_results(results, Results, 10) == 4
    assert weighting["sum_of_weights"] is None
    assert weighting["effective_respondents"] is None


def test_a_value_no_record_declares_is_refused() -> None:
    with pytest.raises(ValueError, match="no record"):
        protect_results({"robustness": [{"weighting": {"unknown": 3}}]}, Results, 10)
