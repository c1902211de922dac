"""The Dutch report speaks Dutch and the English one English: no English words, package names,
estimator or column identifiers in the Dutch prose, and no Dutch in the English report.

The texts the plan's authors wrote (titles, descriptions, deviations, the codebook) are in
the plan's language and are replaced by a neutral word before the check: the check is of
what pilot-eval writes. The reproducibility appendix, which names files and software
packages on purpose, is left out.
"""

from __future__ import annotations

import copy
import html as html_module
import json
import re
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.plan.model import ESTIMATORS_BY_KIND
from pilot_eval.report.render import load_messages, render
from tests.numbers import EXAMPLE_RESULTS
from tests.privacy.test_privacy_attacks import run_results, small_cell_bundle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = EXAMPLE_RESULTS

ENGLISH = frozenset(
    [
        "the",
        "and",
        "not",
        "with",
        "than",
        "did",
        "reach",
        "reached",
        "vacancy",
        "vacancies",
        "missing",
        "reported",
        "neither",
        "nor",
        "another",
        "fewer",
        "applications",
        "estimate",
        "estimated",
        "control",
        "focal",
        "reference",
        "primary",
        "secondary",
        "disadvantage",
        "weights",
        "only",
        "when",
        "which",
        "from",
        "were",
        "has",
        "have",
        "this",
        "that",
        "there",
        "because",
        "between",
        "holds",
        "published",
        "cannot",
        "needs",
        "group",
        "groups",
        "arm's",
    ]
)
"""Words that are English and not Dutch (Dutch 'of', 'per', 'is', 'arm' are left out)."""

DUTCH = frozenset(
    [
        "de",
        "het",
        "een",
        "van",
        "niet",
        "en",
        "voor",
        "zijn",
        "wordt",
        "geen",
        "dan",
        "bij",
        "naar",
        "ook",
        "uit",
        "maar",
        "deze",
    ]
)
PACKAGES = ("pingouin", "statsmodels", "linearmodels", "scipy", "numpy", "pandas", "jinja")
APPENDIX = {"nl": "Bijlage: reproduceerbaarheid", "en": "Appendix: reproducibility"}
ESTIMATOR_IDS = frozenset(e for names in ESTIMATORS_BY_KIND.values() for e in names)
PLAN_TEXT = "Planwoord"
GLOSSARY = {
    "nl": "Technische namen in deze vermeldingen:",
    "en": "Technical names in these entries:",
}


def _neutral(results: dict[str, Any]) -> dict[str, Any]:
    """A copy with every text the plan's authors wrote replaced by :data:`PLAN_TEXT`."""
    r = copy.deepcopy(results)
    plan = r["plan"]
    plan["title"] = plan["description"] = PLAN_TEXT
    for d in plan["deviations"]:
        d["what"] = d["why"] = PLAN_TEXT
    for h in r["hypotheses"]:
        h["description"] = PLAN_TEXT
    for x in r["robustness"]:
        x["description"] = PLAN_TEXT
    answers = r["evidence"].get("survey", {}).get("open_answers") or {}
    if "procedure" in answers:
        answers["procedure"] = PLAN_TEXT
    for theme in answers.get("themes", []):
        theme["label"] = theme["definition"] = PLAN_TEXT
    return r


def _prose(results: dict[str, Any], lang: str, fmt: str) -> str:
    text = render(Results.model_validate(results), lang, fmt, "pilot-eval run")  # type: ignore[arg-type]
    if fmt == "html":
        text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
        text = re.sub(r"<svg.*?</svg>", " ", text, flags=re.S)
        text = html_module.unescape(re.sub(r"<[^>]+>", " ", text))
    head, _, _ = text.partition(APPENDIX[lang])
    return head


def _offences(text: str, lang: str) -> list[str]:
    words = re.findall(r"[A-Za-z_][A-Za-z_0-9']*", text)
    foreign = ENGLISH if lang == "nl" else DUTCH
    found = {w for w in words if w.lower() in foreign}
    found |= {w for w in words if "_" in w.strip("_")}  # identifiers: age_band, lpm_cr2
    if lang == "nl":  # 'randomisation' and 'logit' are words of English prose
        found |= {w for w in words if w in ESTIMATOR_IDS}
    found |= {p for p in PACKAGES if p in text.lower()}
    if lang == "nl":
        fallback = load_messages("nl")["reason_fallback"]
        if fallback in text:
            found.add(f"untranslated reason ({fallback})")
    return sorted(found)


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    results: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}  # not pinned in the example results
    return _neutral(results)


@pytest.fixture(scope="module")
def small_cells(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run with three pilot applicants from outside Europe: statistics withheld, their
    reasons in the report."""
    folder = tmp_path_factory.mktemp("language")
    return _neutral(
        run_results(small_cell_bundle(folder, "origin", "outside_europe", "netherlands", 3))
    )


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_example_report_speaks_one_language(
    example: dict[str, Any], lang: str, fmt: str
) -> None:
    assert _offences(_prose(example, lang, fmt), lang) == []


@pytest.mark.parametrize("fmt", ["md", "html"])
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_withheld_statistics_give_their_reason_in_the_reports_language(
    small_cells: dict[str, Any], lang: str, fmt: str
) -> None:
    text = _prose(small_cells, lang, fmt)
    assert _offences(text, lang) == []
    expected = "minder dan 10 sollicitaties" if lang == "nl" else "fewer than 10 applications"
    assert expected in text


def test_the_check_finds_what_it_looks_for(example: dict[str, Any]) -> None:
    """The check is not empty: an estimator id, a column name and a reason without a
    translation are caught in the Dutch report."""
    broken = copy.deepcopy(example)
    broken["robustness"][0]["estimator"] = "no_such_estimator"
    broken["hypotheses"][0]["exclusions"][0]["reason"] = "a reason nobody translated"
    for arm in broken["descriptives"]["arms"].values():
        arm["demographics"]["zz_column"] = {"counts": {}, "not_reported_share": None}
    found = _offences(_prose(broken, "nl", "md"), "nl")
    assert "no_such_estimator" in found
    assert "zz_column" in found
    assert any(f.startswith("untranslated reason") for f in found)
    assert _offences("the vacancy was not reported (lpm_cr2, pingouin)", "nl") == [
        "lpm_cr2",
        "not",
        "pingouin",
        "reported",
        "the",
        "vacancy",
    ]


def test_both_catalogues_have_the_same_messages() -> None:
    """A message in one language only would be missing from the other's report."""

    def keys(node: Any, path: str = "") -> set[str]:
        if isinstance(node, dict):
            out = set()
            for k, v in node.items():
                out |= keys(v, f"{path}.{k}")
            return out
        return {path}

    nl, en = load_messages("nl"), load_messages("en")
    # the Dutch catalogue translates the reasons results.json gives in English
    only_dutch = {".reasons", ".reason_fallback"}
    assert keys(nl) - only_dutch == keys(en) - only_dutch


def _headings_md(text: str) -> list[tuple[int, str]]:
    return [
        (len(m.group(1)), m.group(2).strip().replace("\\", ""))
        for m in re.finditer(r"^(#{1,4}) (.+)$", text, flags=re.M)
    ]


def _headings_html(text: str) -> list[tuple[int, str]]:
    return [
        (int(m.group(1)), html_module.unescape(re.sub(r"<[^>]+>", "", m.group(2))).strip())
        for m in re.finditer(r"<h([1-4])[^>]*>(.*?)</h\1>", text, flags=re.S)
    ]


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_markdown_and_html_carry_the_same_sections(
    example: dict[str, Any], small_cells: dict[str, Any], lang: str
) -> None:
    """The PDF is made from the HTML; the Markdown report must hold the same sections, in
    the same order and at the same level."""
    for results in (example, small_cells):
        md = render(Results.model_validate(results), lang, "md", "cmd")  # type: ignore[arg-type]
        html = render(Results.model_validate(results), lang, "html", "cmd")  # type: ignore[arg-type]
        assert _headings_md(md) == _headings_html(html)
        assert len(_headings_md(md)) > 30


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_technical_name_in_the_plans_own_entries_is_explained(lang: str) -> None:
    """The plan's deviations are shown as written (a locked entry cannot change), so every
    identifier in them (a word with an underscore, or a key of the plan) gets words beside it."""
    results = json.loads(EXAMPLE.read_text("utf-8"))
    results["software"] = {"pilot_eval": "x"}
    report = render(Results.model_validate(results), lang, "md", "pilot-eval run")  # type: ignore[arg-type]
    words = " ".join(d["what"] + " " + d["why"] for d in results["plan"]["deviations"])
    identifiers = set(re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", words))
    assert {"decided_by", "lpm_cr2", "interview_quality"} <= identifiers
    glossary = next(x for x in report.splitlines() if x.startswith(GLOSSARY[lang]))
    for name in identifiers | {"bound", "disadvantage", "diagnosis", "survey"}:
        assert f"`{name}`: " in glossary, name
