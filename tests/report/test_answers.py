"""The answers to Parliament's questions at the top of the report (pilot_eval/report/answers.py).

Built from the pinned results of the example plan; each test changes what it needs.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pilot_eval.analysis.records import Results
from pilot_eval.report.answers import Answer, answers
from pilot_eval.report.render import Formatter, Reasons, load_messages, render
from tests.numbers import EXAMPLE_RESULTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = EXAMPLE_RESULTS
QUESTIONS = (
    "how",
    "questionnaire",
    "disadvantage",
    "interview",
    "representative",
    "privacy",
    "uncertainty",
)


@pytest.fixture
def results() -> dict[str, Any]:
    r: dict[str, Any] = json.loads(EXAMPLE.read_text("utf-8"))
    r["software"] = {"pilot_eval": "x"}
    return r


def _answers(results: dict[str, Any], lang: str = "nl") -> dict[str, Answer]:
    messages = load_messages(lang)  # type: ignore[arg-type]
    f = Formatter(lang=lang, min_cell=10)  # type: ignore[arg-type]
    found = answers(Results.model_validate(results), messages, f, Reasons(messages))
    return {a.key: a for a in found}


def _text(a: Answer) -> str:
    return " ".join((a.question, *a.paragraphs, *a.findings))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_question_is_answered_in_order(results: dict[str, Any], lang: str) -> None:
    found = _answers(results, lang)
    assert tuple(found) == QUESTIONS
    report = render(Results.model_validate(results), lang, "md", "cmd")  # type: ignore[arg-type]
    positions = [report.index(a.question) for a in found.values()]
    assert positions == sorted(positions)


def test_what_the_plan_leaves_out_is_said_to_be_left_out(results: dict[str, Any]) -> None:
    found = _answers(results)
    assert _text(found["how"]).count("niet vermeld in het plan") == 4
    assert "DPIA): niet vermeld in het plan" in _text(found["privacy"])
    assert "niet vermeld in het plan" in _text(found["representative"])


def test_what_the_plan_states_is_shown(results: dict[str, Any]) -> None:
    results["plan"]["evaluation"] = {
        "evaluator": "Onderzoeksbureau X",
        "commissioner": "Ministerie van BZK",
        "independence": "eigen begeleidingscommissie",
        "success": "H1 tot en met H3 gehaald",
        "legal_basis": "AVG artikel 6 lid 1 onder e",
        "dpia": "DPIA-2023-17",
        "reference_figures": [
            {
                "what": "Medewerkers Rijk met herkomst buiten Europa",
                "group": "origin",
                "share": 0.123,
                "source": "Jaarrapportage Bedrijfsvoering Rijk 2023",
            }
        ],
    }
    found = _answers(results)
    how = _text(found["how"])
    for words in ("Onderzoeksbureau X", "Ministerie van BZK", "H1 tot en met H3 gehaald"):
        assert words in how
    assert "niet vermeld in het plan" not in how
    assert "AVG artikel 6 lid 1 onder e" in _text(found["privacy"])
    figure = found["representative"].findings[0]
    assert "12,3%" in figure
    # beside it, the focal share among the pilot applicants who reported their origin,
    # worked out here from the published counts
    pilot = results["descriptives"]["arms"]["pilot"]["demographics"]["origin"]["counts"]
    share = pilot["outside_europe"] / (
        pilot["outside_europe"] + pilot["netherlands"] + pilot["europe"]
    )
    assert f"{100 * share:.1f}%".replace(".", ",") in figure


def test_a_fragile_success_is_called_fragile(results: dict[str, Any]) -> None:
    """H1 meets its criterion, but a pre-registered robustness check reverses it: the first
    answer says so, and the last lists why."""
    found = _answers(results)
    assert "H1" in found["how"].paragraphs[-1].split("Kwetsbaar")[1]
    h1 = next(f for f in found["questionnaire"].findings if f.startswith("H1 "))
    assert "andere analyse R4 (" in h1
    assert "komt tot een ander oordeel" in h1
    assert any(f.startswith("H1:") for f in found["uncertainty"].findings)


def test_a_confirmed_disadvantage_reads_as_one(results: dict[str, Any]) -> None:
    h4 = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H4 "))
    assert "bevestigde achterstand" in h4
    assert "haalt het vooraf vastgelegde criterium" not in h4


def test_harm_reads_as_harm(results: dict[str, Any]) -> None:
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")
    h2.update(verdict="not_met", harm=True, p_adjusted=1.0)
    h2["criterion_tests"]["harm"] = 0.0004
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H2 "))
    assert "nadelig" in text
    # the technical summary explains the one-sided p of 1 beside it with the harm test's p
    report = render(Results.model_validate(results), "nl", "md", "cmd")  # type: ignore[arg-type]
    line = next(x for x in report.splitlines() if x.startswith("- H2:") and "95%-interval" in x)
    assert "gecorrigeerde p 1,000" in line
    assert "toets in de nadelige richting: gecorrigeerde p < 0,001" in line
    assert "toetst de gehoopte richting en is daarom bijna 1" in report


def test_a_group_the_plan_does_not_test_is_named(results: dict[str, Any]) -> None:
    untested = copy.deepcopy(results)
    untested["hypotheses"] = [h for h in untested["hypotheses"] if h["group"] != "gender"]
    text = _text(_answers(untested)["disadvantage"])
    assert "Voor geslacht toetst het plan geen nadeel" in text


def test_the_bundle_of_interventions_is_said_to_be_inseparable(results: dict[str, Any]) -> None:
    text = _text(_answers(results)["questionnaire"])
    assert "niet apart meten" in text
    # the share of pilot vacancies that applied all three, from the fidelity diagnostics
    share = results["diagnostics"]["fidelity"]["all_present"]["arms"]["pilot"]
    assert f"{100 * share['share_all_applied']:.1f}%".replace(".", ",") in text
    # a count of every pilot vacancy: its numbers, and that it has no margin
    assert f"{share['n_all_applied']} van de {share['n_vacancies']} pilotvacatures" in text
    assert "geen steekproef" in text


def test_workshop_attendance_gives_its_counts(results: dict[str, Any]) -> None:
    text = _text(_answers(results)["interview"])
    years = results["evidence"]["committee_training"]["overall"]
    for y in (years[0], years[-1]):
        assert f"({y['members_trained']} van {y['members_required']})" in text
    assert "geen onzekerheidsmarge" in text


def test_interview_reliability_is_given_per_arm(results: dict[str, Any]) -> None:
    text = _text(_answers(results)["interview"])
    reliability = results["evidence"]["interview_quality"]["reliability"]
    for arm in ("pilot", "control"):
        assert f"{reliability[arm]['value']:.2f}".replace(".", ",") in text


def test_each_question_has_a_short_answer_with_its_numbers(results: dict[str, Any]) -> None:
    found = _answers(results)
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")["decision"]
    expected = f"{100 * h2['estimate']:.1f} procentpunt (tussen".replace(".", ",")
    assert expected in found["questionnaire"].short
    assert "criterium gehaald (H2)" in found["questionnaire"].short
    assert "niet apart te meten" in found["questionnaire"].short
    # every disadvantage not ruled out is named, with how large it may be
    open_ = [h["id"] for h in results["hypotheses"] if h["disadvantage_not_ruled_out"]]
    assert open_
    for h_id in open_:
        assert f"({h_id})" in found["disadvantage"].short
    # H4 (origin, not among the Senate's examples) shows a disadvantage; the others are open
    assert found["disadvantage"].short.startswith("Nadeel aangetoond: herkomst buiten Europa")
    short = found["disadvantage"].short
    assert "Bij andere vergelijkingen is een nadeel groter dan de vooraf aanvaarde grens" in short
    assert "55 jaar en ouder (uitgenodigd): tot 4,1 procentpunt (H9)" in short
    assert all(a.short for a in found.values())


def test_a_disadvantage_shown_leads_the_short_answer(results: dict[str, Any]) -> None:
    h9 = next(h for h in results["hypotheses"] if h["id"] == "H9")
    h9.update(verdict="not_met", harm=True)
    short = _answers(results)["disadvantage"].short
    assert short.startswith("Nadeel aangetoond: 55 jaar en ouder ten opzichte van 30-44 jaar")
    assert "(fase: uitgenodigd): " in short
    assert "(H9)" in short
    assert short.count("(H9)") == 1  # not also listed as merely 'not ruled out'


def test_a_transition_gives_its_plain_percentages(results: dict[str, Any]) -> None:
    """The invitation rates behind H2, from the funnel's published counts, per arm."""
    h2 = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H2 "))
    funnel = results["descriptives"]["funnel"]["origin"]["arms"]
    for arm in ("control", "pilot"):
        for side in ("focal", "reference"):
            reached = funnel[arm]["sides"][side]["reached"]
            rate = reached["invited"] / reached["applied"]
            assert f"{100 * rate:.1f}%".replace(".", ",") in h2


def test_amendments_after_the_outcomes_are_counted(results: dict[str, Any]) -> None:
    entries = results["plan"]["lock"]["entries"]
    after = sum(
        e["kind"] != "registration" and e["data_access"] == "outcome_data_seen" for e in entries
    )
    assert after > 0
    assert f"{after} van die wijzigingen zijn gedaan nadat" in _text(_answers(results)["how"])


def test_the_interview_rating_gap_is_given_per_arm(results: dict[str, Any]) -> None:
    """How far apart the groups' interview ratings are in each arm, and the change, from the
    other evidence."""
    text = _text(_answers(results)["interview"])
    gap = results["evidence"]["interview_quality"]["gaps"][0]
    for arm in ("control", "pilot"):
        assert f"{gap['per_arm'][arm]['estimate']:.2f}".replace(".", ",") in text
    change = gap["difference_between_arms"]["estimate"]
    assert f"veranderde met {change:.2f}".replace(".", ",") in text


def test_fragility_from_missing_answers_says_how_many_and_how_far(
    results: dict[str, Any],
) -> None:
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")
    missing = h2["missing_data"]
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H2 "))
    n = sum(missing["missing"].values())
    assert f"{n:,} van de ".replace(",", ".") in text
    low, high = (f"{100 * missing[k]:.1f}".replace(".", ",") for k in ("lower", "upper"))
    assert f"tussen {low} en {high} procentpunt" in text


def test_weighting_to_all_vacancies_is_reported_with_its_effect(results: dict[str, Any]) -> None:
    """R7 weights the arms to all vacancies of the period: the answer says whether a verdict
    changes, and names it when one does."""
    text = _text(_answers(results)["representative"])
    assert "Volgens analyse R7 (voor H1, H2, H3)" in text
    assert "naar departement, functiefamilie en salarisschaal" in text
    assert "verandert bij die hypothesen geen oordeel" in text
    r7 = next(x for x in results["robustness"] if x["specification"] == "R7")
    r7["verdict"] = "not_met" if r7["verdict"] != "not_met" else "met"
    changed = _answers(results)["representative"].short
    assert f"verandert het oordeel bij {r7['hypothesis']}:" in changed


def test_an_under_represented_department_is_named_and_read(results: dict[str, Any]) -> None:
    """The department furthest from all vacancies of the period is named in words, not by
    its code, and the answer says what fewer of its vacancies means for the results."""
    text = _text(_answers(results)["representative"])
    margins = results["evidence"]["representativeness"]["margins"]
    department = next(m for m in margins if m["margin"] == "department")
    pilot = next(a for a in department["arms"] if a["arm"] == "pilot")
    widest = max(pilot["categories"], key=lambda c: abs(c["standardised_difference"]))
    assert widest["category"] == "DEF"
    assert widest["share"] < widest["population_share"]
    assert "het meest af bij Defensie" in text
    assert " DEF" not in text
    assert "Over Defensie, met naar verhouding weinig pilotvacatures, zeggen ze minder" in text


def test_reliability_comes_with_its_interval(results: dict[str, Any]) -> None:
    pilot = results["evidence"]["interview_quality"]["reliability"]["pilot"]
    text = _answers(results)["interview"].short
    low, high = (f"{pilot[k]:.2f}".replace(".", ",") for k in ("ci_low", "ci_high"))
    assert f"(waarschijnlijk tussen {low} en {high})" in text


def test_a_fragile_conclusion_says_how_many_answers_would_overturn_it(
    results: dict[str, Any],
) -> None:
    """The degree: how many of those who did not answer would have to turn out against the
    conclusion, from the tipping share of the bounds and the published missing counts."""
    h2 = next(h for h in results["hypotheses"] if h["id"] == "H2")
    missing = h2["missing_data"]
    n = sum(missing["missing"].values())
    k = math.ceil(missing["tipping_share"] * n)
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H2 "))
    assert f"slaat al om als {k:,} van hen".replace(",", ".") in text
    # out of how many: the applications of both arms (H2 starts at the application)
    total = sum(
        results["descriptives"]["arms"][a]["reached"]["applied"] for a in missing["missing"]
    )
    assert f"{n:,} van de {total:,} sollicitanten".replace(",", ".") in text
    assert "kwetsbaar" in text


def test_no_conclusion_is_not_called_fragile(results: dict[str, Any]) -> None:
    """A hypothesis without a conclusion cannot be overturned: its missing answers make it
    less certain, and the summary does not list it as fragile."""
    found = _answers(results)
    inconclusive = [h["id"] for h in results["hypotheses"] if h["verdict"] == "inconclusive"]
    assert inconclusive
    short = found["uncertainty"].short.split("kwetsbaar:")[1]
    for hid in inconclusive:
        assert hid not in short.replace(",", " ").split()
    h9 = next(f for f in found["disadvantage"].findings if f.startswith("H9 "))
    assert "kwetsbaar" not in h9
    assert "nog onzekerder" in h9


def test_every_group_the_senate_named_is_in_the_short_answer(results: dict[str, Any]) -> None:
    """Women (H7, no margin) appear in the one-line answer beside the groups with a margin."""
    short = _answers(results)["disadvantage"].short
    for hid in ("H7", "H9", "H10", "H11", "H12"):
        assert f"({hid})" in short
    assert "vrouwen ten opzichte van mannen" in short


def test_reliability_comes_with_a_benchmark_and_the_rating_gap_with_its_clustering(
    results: dict[str, Any],
) -> None:
    text = _text(_answers(results)["interview"])
    assert "Boven 0,75 geldt zo'n betrouwbaarheid doorgaans als goed" in text
    # the gap's interval is clustered by vacancy (CR2, Welch-Satterthwaite): no caveat
    assert "dezelfde commissie alle kandidaten van een vacature beoordeelt" in text
    assert "te smal" not in text


def test_a_later_stage_also_gives_the_effect_over_all_applicants(results: dict[str, Any]) -> None:
    h10 = next(h for h in results["hypotheses"] if h["id"] == "H10")
    whole = h10["later_stage"]["from_application"]
    text = next(f for f in _answers(results)["disadvantage"].findings if f.startswith("H10 "))
    value = f"{100 * whole['estimate']:.1f}".replace(".", ",")
    assert "van sollicitatie tot aanbod gekregen (dus ook wie eerder afviel" in text
    assert f"het criterium gaat daar niet over): {value} procentpunt" in text


def test_missing_answers_come_with_the_milder_lee_bounds(results: dict[str, Any]) -> None:
    h1 = next(h for h in results["hypotheses"] if h["id"] == "H1")
    lee = h1["missing_data"]["lee"]
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H1 "))
    low, high = (f"{100 * lee[k]:.1f}".replace(".", ",") for k in ("lower", "upper"))
    assert "in de andere zou doen (een mildere aanname)" in text
    assert f"tussen {low} en {high} procentpunt; dan is de conclusie niet meer zeker" in text


def test_limitations_say_who_left_questions_open_and_how_often_the_plan_changed_late(
    results: dict[str, Any],
) -> None:
    text = _text(_answers(results)["uncertainty"])
    origin = {
        a: results["descriptives"]["arms"][a]["demographics"]["origin"]["not_reported_share"]
        for a in ("control", "pilot")
    }
    for share in origin.values():
        assert f"{100 * share:.1f}%".replace(".", ",") in text
    after = sum(
        e["data_access"] == "outcome_data_seen"
        for e in results["plan"]["lock"]["entries"]
        if e["kind"] != "registration"
    )
    assert f"is het plan {after} keer gewijzigd" in text


def test_a_conclusion_that_holds_under_the_milder_assumption_says_so(
    results: dict[str, Any],
) -> None:
    h1 = next(h for h in results["hypotheses"] if h["id"] == "H1")
    h1["missing_data"]["lee"]["verdicts"] = {"lower": "reached", "upper": "reached"}
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H1 "))
    assert "; dan blijft de conclusie staan" in text
    # a harm holds only where both ends lie the harmful way
    h1.update(harm=True, verdict="not_met")
    text = next(f for f in _answers(results)["questionnaire"].findings if f.startswith("H1 "))
    assert "; dan is de conclusie niet meer zeker" in text


def test_a_disadvantage_outside_the_weighted_analysis_is_said_to_be_outside_it(
    results: dict[str, Any],
) -> None:
    """R7 covers H1-H3; H4 shows a gap within the control arm: the answer says R7 does not
    speak to it."""
    text = _text(_answers(results)["representative"])
    assert (
        "Over H4, waar de gegevens een nadeel of achterstand tonen, gaat die analyse niet" in text
    )


def test_the_four_fifths_rule_and_the_size_of_a_score_gap_are_named(
    results: dict[str, Any],
) -> None:
    text = _text(_answers(results)["questionnaire"])
    assert "onder 0,8 geldt de vier-vijfde-regel als geschonden" in text
    assert "0,2 geldt als een klein verschil, 0,5 als middelgroot" in text


def test_question_one_gives_the_period_and_says_what_an_arm_is(results: dict[str, Any]) -> None:
    period = results["descriptives"]["period"]
    text = _text(_answers(results)["how"])
    assert period["first"][:4] in text
    assert "heten in dit rapport de twee armen" in text


def test_the_yes_or_no_questions_get_a_plain_answer(results: dict[str, Any]) -> None:
    found = _answers(results)
    # H1 and H2 meet their criteria but are fragile
    assert found["questionnaire"].plain == "Ja, maar kwetsbaar"
    # H4 shows a gap in the control vacancies only: the regular procedure, not the pilot;
    # H9 to H12 leave a disadvantage in the pilot beyond the margin open
    assert found["disadvantage"].plain == (
        "Voor de pilot niet aangetoond, maar ook niet uitgesloten; "
        "wel een achterstand in de gewone procedure"
    )
    assert "(fase: uitgenodigd) in de controlevacatures: -7,1" in found["disadvantage"].short
    # reliability 0,84 and 0,96: the lower is good (Koo and Li); H3 has no conclusion
    assert found["interview"].plain == (
        "Gelijk beoordelen: goed; effect na het gesprek: niet vast te stellen"
    )
    assert all(not found[k].plain for k in ("how", "representative", "privacy", "uncertainty"))
    english = _answers(results, "en")
    assert english["questionnaire"].plain == "Yes, but fragile"
    report = render(Results.model_validate(results), "nl", "md", "cmd")  # type: ignore[arg-type]
    assert "| **Ja, maar kwetsbaar.** Aandeel" in report
    assert "\n**Gelijk beoordelen: goed; effect na het gesprek: niet vast te stellen.**\n" in report


def test_a_plain_answer_follows_harm_no_conclusion_and_bands(results: dict[str, Any]) -> None:
    changed = copy.deepcopy(results)
    h2 = next(h for h in changed["hypotheses"] if h["id"] == "H2")
    h2.update(verdict="not_met", harm=True)
    assert _answers(changed)["questionnaire"].plain == "Nee, eerder nadelig"
    h2.update(verdict="inconclusive", harm=False)
    assert _answers(changed)["questionnaire"].plain == "Niet vast te stellen"
    # harm in the pilot for a group the Senate named: yes
    h9 = next(h for h in changed["hypotheses"] if h["id"] == "H9")
    h9.update(verdict="not_met", harm=True)
    assert _answers(changed)["disadvantage"].plain.startswith("Ja")
    h9.update(verdict="inconclusive", harm=False)
    # no disadvantage shown, and none left open: a plain no
    for h in changed["hypotheses"]:
        h.update(group_disadvantaged=False if h["group_disadvantaged"] else None)
        h["disadvantage_not_ruled_out"] = None
    assert _answers(changed)["disadvantage"].plain == "Nee, niet aangetoond"
    for arm in changed["evidence"]["interview_quality"]["reliability"].values():
        arm["value"] = 0.6
    assert _answers(changed)["interview"].plain.startswith("Gelijk beoordelen: matig;")


def test_a_disadvantage_of_a_group_not_named_answers_question_3(results: dict[str, Any]) -> None:
    found = _answers(results)["disadvantage"]
    # origin is not among the Senate's examples, but H4 shows a disadvantage
    assert found.short.startswith("Nadeel aangetoond: herkomst buiten Europa")
    assert any(f.startswith("H4 ") for f in found.findings)


def test_a_margin_below_what_the_design_can_show_is_said(results: dict[str, Any]) -> None:
    text = next(f for f in _answers(results)["disadvantage"].findings if f.startswith("H9 "))
    # H9: margin 3,0, minimum detectable effect 5,8 percentage points
    assert "De vooraf aanvaarde grens (3,0 procentpunt) is kleiner dan" in text
    assert "(5,8 procentpunt)" in text
    wider = copy.deepcopy(results)
    h9 = next(h for h in wider["hypotheses"] if h["id"] == "H9")
    h9["criterion"]["margin"] = 0.07
    text = next(f for f in _answers(wider)["disadvantage"].findings if f.startswith("H9 "))
    assert "vooraf aanvaarde grens" not in text


def test_each_finding_states_its_criterion_as_the_plan_chapter_does(
    results: dict[str, Any],
) -> None:
    found = _answers(results)["questionnaire"]
    h2 = next(f for f in found.findings if f.startswith("H2 "))
    criterion = "gehaald als de schatting groter is dan 0,0 procentpunt en de gecorrigeerde p"
    assert f"Het criterium: {criterion}" in h2
    # the plan chapter's table gives the same words, from the same function
    report = render(Results.model_validate(results), "nl", "md", "cmd")  # type: ignore[arg-type]
    row = next(x for x in report.splitlines() if x.startswith("| H2 |"))
    assert criterion in row


def test_the_report_says_which_period_and_plan_it_covers(results: dict[str, Any]) -> None:
    report = render(Results.model_validate(results), "nl", "md", "cmd")  # type: ignore[arg-type]
    head = report.split("## 1.")[0]
    assert "vacatures van 17 oktober 2023 tot en met 8 september 2024" in head
    assert "plan vastgelegd op 1 september 2023, laatst gewijzigd op " in head
    unlocked = copy.deepcopy(results)
    unlocked["plan"]["lock"] = None
    unlocked["descriptives"]["period"] = None
    head = render(Results.model_validate(unlocked), "nl", "md", "cmd").split("## 1.")[0]  # type: ignore[arg-type]
    assert "vacatures van" not in head
    assert "laatst gewijzigd" not in head


def test_no_harm_beyond_the_margin_is_not_read_as_no(results: dict[str, Any]) -> None:
    # non_inferior shows only that there is no harm beyond the margin, not the effect
    changed = copy.deepcopy(results)
    h2 = next(h for h in changed["hypotheses"] if h["id"] == "H2")
    h2.update(verdict="non_inferior", harm=False)
    assert _answers(changed)["questionnaire"].plain == "Niet vast te stellen"
    # question 4's plain answer reads the hypotheses its short answer names (not H10/H12)
    h10 = next(h for h in changed["hypotheses"] if h["id"] == "H10")
    h10.update(verdict="not_met")
    assert _answers(changed)["interview"].plain.endswith(
        "effect na het gesprek: niet vast te stellen"
    )
