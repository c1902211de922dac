"""Tests of the analysis plan: models, loading, problems, canonical form and hash."""

from __future__ import annotations

import hashlib
import json
import random
import re
import tempfile
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pilot_eval import reference
from pilot_eval.errors import PlanError, Problem
from pilot_eval.plan.model import (
    CLUSTER_AWARE,
    ESTIMATORS_BY_KIND,
    AnalysisPlan,
    Criterion,
    Design,
    Deviation,
    Disclosure,
    Family,
    Group,
    Hypothesis,
    LoadedPlan,
    RandomisationInference,
    StageTransition,
    deciding_default,
    load_plan,
    plan_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "analysis_plans" / "breed-werven-2024.yaml"
EXAMPLE_TEXT = EXAMPLE.read_text(encoding="utf-8")
PLAN_NAME = "plan.yaml"
# In the example plan hypotheses[i] is H{i+1}: an edit of H7 shows up at hypotheses[6].


# --------------------------------------------------------------------------------------
# helpers


def edit(text: str, old: str, new: str) -> str:
    """Replace `old`, which must occur exactly once, so that every edit is unambiguous."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    """The 1-based number of the line holding `needle` (the n-th such line)."""
    rows = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    return rows[occurrence]


def write(folder: Path, text: str) -> Path:
    path = folder / PLAN_NAME
    path.write_text(text, encoding="utf-8")
    return path


def load_text(folder: Path, text: str) -> LoadedPlan:
    return load_plan(write(folder, text))


def example_data() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE_TEXT)
    assert isinstance(data, dict)
    return data


def dump(data: dict[str, Any], **options: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, **options)


def plan_problems(folder: Path, text: str, match: str) -> tuple[Problem, ...]:
    """Load a plan that must fail; return its problems."""
    with pytest.raises(PlanError, match=match) as info:
        load_text(folder, text)
    return info.value.problems


def only_problem(folder: Path, text: str, match: str) -> Problem:
    problems = plan_problems(folder, text, match)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture(scope="module")
def example() -> LoadedPlan:
    return load_plan(EXAMPLE)


# --------------------------------------------------------------------------------------
# the example plan and defaults


def test_example_plan_loads(example: LoadedPlan) -> None:
    plan = example.plan
    assert plan.id == "breed-werven-2024"
    assert plan.plan_format == 1
    assert plan.version == "1.0"
    assert plan.design.assignment == "block_randomised"
    assert plan.reference_arm == "control"
    assert [h.id for h in plan.hypotheses] == [f"H{i}" for i in range(1, 13)]
    assert set(plan.groups) == {"origin", "gender", "age", "disability"}
    # block, adjust_for columns (committee_trained of R6) and the subgroup column
    assert plan.vacancy_columns() == (
        "block",
        "committee_trained",
        "department",
        "function_family",
        "salary_scale",
    )
    assert plan.application_columns() == (
        "age_band",
        "disability",
        "gender",
        "origin",
        "questionnaire_score",
    )


def test_example_identity_is_sha256_of_its_canonical_form(example: LoadedPlan) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", example.sha256)
    assert hashlib.sha256(example.canonical.encode("utf-8")).hexdigest() == example.sha256
    assert example.path == EXAMPLE


def test_yaml_booleans_in_groups_become_text(example: LoadedPlan) -> None:
    # The example writes `focal: [true]`, which YAML reads as a boolean.
    disability = example.plan.groups["disability"]
    assert disability.focal == ("true",)
    assert disability.reference == ("false",)


def test_chosen_estimator_defaults_to_the_first_of_its_kind(example: LoadedPlan) -> None:
    for h in example.plan.hypotheses:
        expected = h.estimator or ESTIMATORS_BY_KIND[h.kind][0]
        assert h.chosen_estimator == expected
    by_id = {h.id: h for h in example.plan.hypotheses}
    assert by_id["H1"].estimator is None
    assert by_id["H1"].chosen_estimator == "lpm_fe"
    assert by_id["H4"].chosen_estimator == "mantel_haenszel"  # written in the plan
    assert by_id["H5"].chosen_estimator == "impact_ratio"
    assert by_id["H6"].chosen_estimator == "hedges_g"


def test_every_kind_default_estimator_is_allowed_for_the_kind() -> None:
    assert set(ESTIMATORS_BY_KIND) == {
        "pool_share",
        "stage_gap",
        "gap_difference",
        "impact_ratio",
        "score_gap",
    }
    for allowed in ESTIMATORS_BY_KIND.values():
        assert allowed
        assert len(set(allowed)) == len(allowed)


def test_omitted_hypothesis_keys_take_their_defaults(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    score: questionnaire_score\n    arm: pilot\n    decided_by: hedges_g_cr2\n"
        "    alternative: two-sided\n",
        "    score: questionnaire_score\n",
    )
    h6 = load_text(tmp_path, text).plan.hypotheses[5]
    assert h6.id == "H6"
    assert h6.arm is None
    assert h6.alternative == "two-sided"
    assert h6.adjust_for == ()
    assert h6.estimator is None
    assert h6.decided_by is None
    assert h6.deciding_test == "hedges_g_cr2"
    assert h6.criterion == Criterion(min_effect=None)
    assert h6.stage is None


def test_omitted_top_level_keys_take_their_defaults(tmp_path: Path) -> None:
    data = example_data()
    for key in ("alpha", "disclosure", "deviations", "description"):
        del data[key]
    del data["design"]["unit"]
    del data["randomisation_inference"]["draws"]
    plan = load_text(tmp_path, dump(data)).plan
    assert plan.alpha == 0.05
    # Defaults declared in pilot_eval/plan/model.py; the seed is the example's.
    assert plan.disclosure == Disclosure(min_cell=10, k_anonymity=5)
    assert plan.deviations == ()
    assert plan.description is None
    assert plan.design.unit == "vacancy"
    assert plan.randomisation_inference == RandomisationInference(draws=10_000, seed=20240901)


# --------------------------------------------------------------------------------------
# unknown keys


def test_mistyped_key_in_third_hypothesis_names_path_line_and_suggestion(
    tmp_path: Path,
) -> None:
    # H3 is the third hypothesis; its `alternative` follows `arm: pilot` and precedes the
    # description "The offer gap ...".
    text = edit(
        EXAMPLE_TEXT,
        "    alternative: greater\n    description: Het verschil in aanbod",
        "    alternativ: greater\n    description: Het verschil in aanbod",
    )
    problem = only_problem(tmp_path, text, "1 problem in the plan plan.yaml")
    assert problem.file == PLAN_NAME
    assert problem.column == "hypotheses[2].alternativ"
    assert problem.row == line_of(text, "alternativ:")
    assert "unknown key" in problem.rule
    assert "did you mean 'alternative'" in problem.rule


def test_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "alpha: 0.05\n", "alpha: 0.05\nalhpa: 0.01\n")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "alhpa"
    assert problem.row == line_of(text, "alhpa:")
    assert "did you mean 'alpha'" in problem.rule


def test_unknown_top_level_key_without_a_close_match_lists_known_keys(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "alpha: 0.05\n", "alpha: 0.05\nzzz: 1\n")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "zzz"
    assert "known keys:" in problem.rule
    assert "hypotheses" in problem.rule


def test_unknown_key_inside_design_is_an_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  unit: vacancy\n", "  unit: vacancy\n  unti: vacancy\n")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "design.unti"
    assert problem.row == line_of(text, "unti:")
    assert "did you mean 'unit'" in problem.rule


def test_unknown_key_inside_a_group_is_an_error(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "origin: {column: origin, focal:",
        "origin: {column: origin, focul: [europe], focal:",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "groups.origin.focul"
    assert problem.row == line_of(text, "focul:")
    assert "did you mean 'focal'" in problem.rule


def test_unknown_key_inside_a_stage_is_an_error(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "stage: {from: interviewed, to: offered}",
        "stage: {from: interviewed, too: offered}",
    )
    problems = plan_problems(tmp_path, text, "problems in the plan")
    by_column = {p.column: p for p in problems}
    assert set(by_column) == {"hypotheses[2].stage.too", "hypotheses[2].stage.to"}
    assert "did you mean 'to'" in by_column["hypotheses[2].stage.too"].rule
    assert by_column["hypotheses[2].stage.to"].rule == "required key is missing"


# --------------------------------------------------------------------------------------
# references and rules between keys


def test_unknown_group_is_named(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "    group: gender\n", "    group: sex\n")  # H7
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[6].group"
    assert problem.value == "sex"
    assert problem.row == line_of(text, "group: sex")
    assert "no such group" in problem.rule
    assert "origin, gender, age, disability" in problem.rule
    assert "value 'sex'" in problem.format()


def test_unknown_arm_is_named(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "    arm: control\n", "    arm: treatment\n")  # H4
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].arm"
    assert problem.value == "treatment"
    assert problem.row == line_of(text, "arm: treatment")
    assert "no such arm (declared: control, pilot)" in problem.rule


def test_unknown_family_is_named(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  - id: H8\n    family: secondary", "  - id: H8\n    family: extra")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[7].family"
    assert problem.value == "extra"
    assert problem.row == line_of(text, "family: extra")
    assert "no such family (declared: primary, secondary, disadvantage)" in problem.rule


def test_stage_to_must_come_after_from(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "stage: {from: interviewed, to: offered}",
        "stage: {from: offered, to: interviewed}",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[2].stage"
    assert problem.value == "offered -> interviewed"
    assert problem.row == line_of(text, "stage: {from: offered")
    assert "must come after" in problem.rule


def test_stage_to_equal_to_from_is_an_error(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "stage: {from: interviewed, to: offered}",
        "stage: {from: offered, to: offered}",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[2].stage"


def test_unknown_stage_name_is_a_literal_error(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "stage: {from: interviewed, to: offered}",
        "stage: {from: interview, to: offered}",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[2].stage.from"
    assert problem.value == "interview"
    assert problem.row == line_of(text, "from: interview,")
    assert "'interviewed'" in problem.rule


def test_stage_gap_needs_a_stage(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    stage: {from: applied, to: invited}\n    arm: control\n",
        "    arm: control\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].stage"
    assert problem.rule.startswith("stage_gap needs a stage")
    # The key is missing, so the problem points at the hypothesis (H4) itself.
    assert problem.row == line_of(text, "- id: H4")


def test_pool_share_takes_no_stage(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    group: disability\n",
        "    group: disability\n    stage: {from: applied, to: invited}\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[7].stage"
    assert "takes no stage" in problem.rule


def test_score_gap_needs_a_score(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "    score: questionnaire_score\n", "")  # H6
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[5].score"
    assert "score_gap needs the score column" in problem.rule


def test_estimator_must_apply_to_the_kind(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "estimator: mantel_haenszel", "estimator: hedges_g")  # H4
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].estimator"
    assert problem.value == "hedges_g"
    assert problem.row == line_of(text, "estimator: hedges_g")
    assert "does not apply to stage_gap" in problem.rule
    assert ", ".join(ESTIMATORS_BY_KIND["stage_gap"]) in problem.rule


def test_randomisation_estimator_needs_a_randomised_design(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "assignment: block_randomised", "assignment: self_selected")
    text = edit(text, "estimator: lpm_fe", "estimator: randomisation")  # H2
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[1].estimator"
    assert problem.value == "randomisation"
    assert "needs a randomised design, not 'self_selected'" in problem.rule


def test_randomisation_estimator_is_allowed_in_a_randomised_design(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "estimator: lpm_fe", "estimator: randomisation")  # H2
    assert load_text(tmp_path, text).plan.hypotheses[1].chosen_estimator == "randomisation"


def test_block_randomised_design_needs_a_block(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  block: block\n", "")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "design.block"
    assert "must name its block column" in problem.rule
    assert problem.row == line_of(text, "design:")


def test_randomised_design_needs_randomisation_inference(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "randomisation_inference: {draws: 10000, seed: 20240901}\n", "")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "randomisation_inference"


def test_duplicate_hypothesis_id_is_an_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  - id: H8\n", "  - id: H7\n")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[7].id"
    assert problem.value == "H7"
    assert problem.row == line_of(text, "- id: H7", occurrence=1)
    assert "used twice" in problem.rule


def test_group_value_outside_the_vocabulary_is_an_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "focal: [outside_europe]", "focal: [outside-europe]")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "groups.origin.focal[0]"
    assert problem.value == "outside-europe"
    assert problem.row == line_of(text, "outside-europe")
    assert "not a value of 'origin'" in problem.rule
    assert "outside_europe" in problem.rule


def test_group_on_an_extra_column_may_name_any_value(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "  age: {column: age_band,",
        "  region: {column: region, focal: [north], reference: [south]}\n  age: {column: age_band,",
    )
    plan = load_text(tmp_path, text).plan
    assert plan.groups["region"].focal == ("north",)
    assert "region" in plan.application_columns()


def test_focal_and_reference_must_not_overlap(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "reference: [netherlands]",
        "reference: [netherlands, outside_europe]",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "groups.origin"
    assert problem.value == "outside_europe"
    assert "overlap" in problem.rule


def test_arms_must_differ(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "arms: [control, pilot]", "arms: [control, control]")
    problems = plan_problems(tmp_path, text, "problems? in the plan")
    assert "design.arms" in {p.column for p in problems}


def test_deviation_cannot_predate_registration(tmp_path: Path) -> None:
    # The example is registered on 2023-09-01.
    first, rest = EXAMPLE_TEXT.split("  - date: 2026-12-03\n", 1)
    text = first + "  - date: 2023-08-31\n" + rest
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "deviations[0].date"
    assert problem.value == "2023-08-31"


def test_all_reference_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "    group: gender\n", "    group: sex\n")
    text = edit(text, "    arm: control\n", "    arm: treatment\n")
    problems = plan_problems(tmp_path, text, "2 problems in the plan plan.yaml")
    assert [(p.column, p.value) for p in problems] == [
        ("hypotheses[3].arm", "treatment"),
        ("hypotheses[6].group", "sex"),
    ]


def test_all_key_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "alpha: 0.05\n", "alpha: 2\nalhpa: 0.01\n")
    text = edit(text, "assignment: block_randomised", "assignment: coin_flip")
    problems = plan_problems(tmp_path, text, "3 problems in the plan")
    assert {p.column for p in problems} == {"alpha", "alhpa", "design.assignment"}


def test_the_report_lists_every_problem_on_its_own_line(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "    group: gender\n", "    group: sex\n")
    text = edit(text, "    arm: control\n", "    arm: treatment\n")
    with pytest.raises(PlanError) as info:
        load_text(tmp_path, text)
    lines = info.value.report().splitlines()
    assert lines[0] == "2 problems in the plan plan.yaml:"
    assert lines[1].startswith("  - plan.yaml, line ")
    assert "key 'hypotheses[6].group': value 'sex'" in lines[2]


# --------------------------------------------------------------------------------------
# YAML syntax and file-level problems


def test_bad_indentation_is_a_syntax_error_with_line_and_column(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  assignment: block_randomised", "   assignment: block_randomised")
    problem = only_problem(tmp_path, text, "not valid YAML")
    row = line_of(text, "   assignment:")
    assert problem.row == row
    assert problem.rule.startswith("YAML syntax error")
    assert re.search(rf"\(line {row}, column \d+\)", problem.rule)


def test_unclosed_bracket_is_a_syntax_error_with_line_and_column(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "arms: [control, pilot]", "arms: [control, pilot")
    problem = only_problem(tmp_path, text, "not valid YAML")
    assert problem.rule.startswith("YAML syntax error")
    # PyYAML notices the missing bracket at the colon of the next key, `groups:`.
    assert problem.row == line_of(text, "groups:")
    assert f"(line {problem.row}, column 7)" in problem.rule  # the colon of `groups:`


def test_unclosed_bracket_error_names_the_line_of_the_opening_bracket(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "arms: [control, pilot]", "arms: [control, pilot")
    problem = only_problem(tmp_path, text, "not valid YAML")
    opened = line_of(text, "arms: [control")
    assert f"flow sequence started at line {opened}, column" in problem.rule


def test_syntax_problem_is_worded_like_other_plan_problems(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "  assignment: block_randomised", "   assignment: block_randomised")
    problem = only_problem(tmp_path, text, "not valid YAML")
    assert problem.format().startswith(f"plan.yaml, line {problem.row}:")


def test_not_a_mapping_problem_is_worded_like_other_plan_problems(tmp_path: Path) -> None:
    problem = only_problem(tmp_path, "- a\n- b\n", "problem in the plan")
    assert problem.format().startswith("plan.yaml, line 1:")


def test_duplicate_top_level_key_is_an_error(tmp_path: Path) -> None:
    # PyYAML alone would silently keep the last `alpha`.
    text = edit(EXAMPLE_TEXT, "alpha: 0.05\n", "alpha: 0.05\nalpha: 0.01\n")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "alpha"
    assert problem.row == line_of(text, "alpha: 0.01")
    assert "twice" in problem.rule


def test_duplicate_key_inside_a_hypothesis_is_an_error(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    score: questionnaire_score\n",
        "    score: questionnaire_score\n    score: interview_score\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[5].score"
    assert problem.row == line_of(text, "score: interview_score")


def test_duplicate_key_in_a_flow_mapping_is_an_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "{correction: holm}", "{correction: holm, correction: none}")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "families.primary.correction"


def test_plan_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / PLAN_NAME
    path.write_bytes(EXAMPLE_TEXT.replace("title: Evaluatie", "title: Évaluatie").encode("cp1252"))
    with pytest.raises(PlanError, match=r"plan\.yaml is not UTF-8 text .*save it as UTF-8"):
        load_plan(path)


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path, example: LoadedPlan) -> None:
    path = tmp_path / PLAN_NAME
    path.write_bytes(EXAMPLE_TEXT.encode("utf-8-sig"))
    assert load_plan(path).sha256 == example.sha256


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_plan_is_an_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(PlanError, match=r"The plan plan\.yaml is empty"):
        load_text(tmp_path, text)


@pytest.mark.parametrize("text", ["- plan_format: 1\n- id: x\n", "just text\n", "42\n"])
def test_plan_that_is_not_a_mapping_is_an_error(tmp_path: Path, text: str) -> None:
    problem = only_problem(tmp_path, text, "problem in the plan plan.yaml")
    assert problem.rule == "the plan must be a YAML mapping of keys to values"
    assert problem.row == 1


def test_missing_plan_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="Cannot read the plan"):
        load_plan(tmp_path / "missing.yaml")


def test_missing_required_keys_are_listed(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "id: breed-werven-2024\n", "")
    text = edit(text, 'version: "1.0"\n', "")
    problems = plan_problems(tmp_path, text, "2 problems in the plan")
    assert {(p.column, p.rule) for p in problems} == {
        ("id", "required key is missing"),
        ("version", "required key is missing"),
    }


def test_unquoted_version_is_an_error(tmp_path: Path) -> None:
    # YAML reads `1.0` as a number; the version must be text.
    text = edit(EXAMPLE_TEXT, 'version: "1.0"', "version: 1.0")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "version"
    assert problem.value == "1.0"


@pytest.mark.parametrize("date", ["2023-02-30", "2023-13-01"])
def test_impossible_date_is_a_plan_error(tmp_path: Path, date: str) -> None:
    text = edit(EXAMPLE_TEXT, "registered_on: 2023-09-01", f"registered_on: {date}")
    with pytest.raises(PlanError):
        load_text(tmp_path, text)


def test_impossible_quoted_date_is_a_plan_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "registered_on: 2023-09-01", "registered_on: '2023-02-30'")
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "registered_on"
    assert problem.value == "2023-02-30"


def test_recursive_yaml_alias_is_a_plan_error(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "subgroups: [department]\n", "subgroups: &loop [*loop]\n")
    with pytest.raises(PlanError):
        load_text(tmp_path, text)


# --------------------------------------------------------------------------------------
# canonical form and hash


def _reversed(mapping: dict[str, Any]) -> dict[str, Any]:
    return dict(reversed(list(mapping.items())))


def test_hash_is_independent_of_key_order(tmp_path: Path, example: LoadedPlan) -> None:
    data = _reversed(example_data())
    data["hypotheses"] = [_reversed(h) for h in data["hypotheses"]]
    data["design"] = _reversed(data["design"])
    text = dump(data)
    assert text.index("hypotheses:") < text.index("plan_format:")
    assert load_text(tmp_path, text).sha256 == example.sha256


@settings(max_examples=25, deadline=None, database=None, derandomize=True)
@given(order=st.permutations(list(example_data())), seed=st.randoms(use_true_random=False))
def test_hash_is_independent_of_any_key_order(order: list[str], seed: random.Random) -> None:
    data = example_data()
    shuffled: dict[str, Any] = {key: data[key] for key in order}
    hypotheses = []
    for h in shuffled["hypotheses"]:
        keys = list(h)
        seed.shuffle(keys)
        hypotheses.append({k: h[k] for k in keys})
    shuffled["hypotheses"] = hypotheses
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_text(Path(folder), dump(shuffled))
    assert loaded.sha256 == load_plan(EXAMPLE).sha256


def test_hash_is_independent_of_comments(tmp_path: Path, example: LoadedPlan) -> None:
    lines = [line for line in EXAMPLE_TEXT.splitlines() if not line.lstrip().startswith("#")]
    text = "\n".join(lines) + "\n"
    text = edit(text, "alpha: 0.05\n", "alpha: 0.05  # two-sided level\n")
    text = edit(text, "  - id: H1\n", "  # the first one\n  - id: H1  # primary\n")
    assert "#" in text
    assert load_text(tmp_path, text).sha256 == example.sha256


@pytest.mark.parametrize(
    "style",
    [
        {"default_flow_style": False},
        {"default_flow_style": True},
        {"default_flow_style": False, "indent": 4, "width": 40},
    ],
    ids=["block", "flow", "indent-4-narrow"],
)
def test_hash_is_independent_of_yaml_style(
    tmp_path: Path, example: LoadedPlan, style: dict[str, Any]
) -> None:
    text = dump(example_data(), **style)
    assert text != EXAMPLE_TEXT
    assert load_text(tmp_path, text).sha256 == example.sha256


def test_hash_is_independent_of_writing_the_plan_as_json(
    tmp_path: Path, example: LoadedPlan
) -> None:
    # JSON is YAML; dates become quoted ISO text.
    text = json.dumps(example_data(), default=str, indent=1)
    assert load_text(tmp_path, text).sha256 == example.sha256


def test_hash_is_independent_of_blank_lines_and_trailing_spaces(
    tmp_path: Path, example: LoadedPlan
) -> None:
    text = "\n\n" + EXAMPLE_TEXT.replace(":\n", ":   \n").replace("\n\n", "\n\n\n\n")
    assert load_text(tmp_path, text).sha256 == example.sha256


def test_hash_is_independent_of_writing_defaults_explicitly(
    tmp_path: Path, example: LoadedPlan
) -> None:
    # The example writes unit, alpha, draws, disclosure and deviations at their defaults;
    # leaving them out is the same plan, and so is writing an empty criterion.
    text = edit(EXAMPLE_TEXT, "  unit: vacancy\n", "")
    text = edit(text, "alpha: 0.05\n", "")
    text = edit(text, "    kind: stage_gap\n", "    kind: stage_gap\n    criterion: {}\n")
    text = edit(text, "{draws: 10000, seed: 20240901}", "{seed: 20240901}")
    text = edit(text, "disclosure: {min_cell: 10, k_anonymity: 5}\n", "")
    assert load_text(tmp_path, text).sha256 == example.sha256


def test_hash_is_independent_of_hypothesis_defaults_written_or_not(
    tmp_path: Path, example: LoadedPlan
) -> None:
    data = example_data()
    for h in data["hypotheses"]:
        if h.get("alternative") == "two-sided":
            del h["alternative"]
        else:
            h.setdefault("alternative", "two-sided")
        h.setdefault("adjust_for", [])
        h.setdefault("criterion", {})
    assert load_text(tmp_path, dump(data)).sha256 == example.sha256


def test_hash_is_independent_of_writing_the_default_estimator_and_arm(
    tmp_path: Path, example: LoadedPlan
) -> None:
    # H2 names lpm_fe, the default of gap_difference; H4 names control, the default arm of a
    # stage_gap; H1 names pilot, the default arm of a pool_share. Written or not: one plan.
    data = example_data()
    by_id = {h["id"]: h for h in data["hypotheses"]}
    del by_id["H2"]["estimator"]
    del by_id["H4"]["arm"]
    del by_id["H1"]["arm"]
    by_id["H6"]["estimator"] = "hedges_g"
    assert load_text(tmp_path, dump(data)).sha256 == example.sha256
    by_id["H4"]["arm"] = "pilot"
    assert load_text(tmp_path, dump(data)).sha256 != example.sha256


def test_hash_treats_quoted_and_unquoted_dates_alike(tmp_path: Path, example: LoadedPlan) -> None:
    text = edit(EXAMPLE_TEXT, "registered_on: 2023-09-01", 'registered_on: "2023-09-01"')
    assert load_text(tmp_path, text).sha256 == example.sha256


def test_canonical_form_leaves_out_defaults_and_sorts_keys(example: LoadedPlan) -> None:
    data = json.loads(example.canonical)
    assert "alpha" not in data
    assert "unit" not in data["design"]
    assert "disclosure" not in data
    assert "sims" not in data["diagnosis"]  # written at its default, 500
    assert data["randomisation_inference"] == {"seed": 20240901}
    assert data["hypotheses"][1]["stage"] == {"from": "applied", "to": "invited"}
    assert example.canonical == json.dumps(
        data, sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def test_hash_changes_when_alpha_changes(tmp_path: Path, example: LoadedPlan) -> None:
    text = edit(EXAMPLE_TEXT, "alpha: 0.05", "alpha: 0.01")
    loaded = load_text(tmp_path, text)
    assert loaded.plan.alpha == 0.01
    assert loaded.sha256 != example.sha256


def test_hash_changes_when_an_alternative_changes(tmp_path: Path, example: LoadedPlan) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    alternative: greater\n    description: Het verschil in aanbod",
        "    alternative: two-sided\n    description: Het verschil in aanbod",
    )
    loaded = load_text(tmp_path, text)
    assert loaded.plan.hypotheses[2].alternative == "two-sided"
    assert loaded.sha256 != example.sha256


def test_hash_changes_when_the_title_changes(tmp_path: Path, example: LoadedPlan) -> None:
    text = edit(EXAMPLE_TEXT, "title: Evaluatie pilot", "title: Evaluatie van de pilot")
    assert load_text(tmp_path, text).sha256 != example.sha256


def test_hash_changes_when_hypotheses_are_reordered(tmp_path: Path, example: LoadedPlan) -> None:
    data = example_data()
    data["hypotheses"] = list(reversed(data["hypotheses"]))
    assert load_text(tmp_path, dump(data)).sha256 != example.sha256


# --------------------------------------------------------------------------------------
# models


MODELS = [
    AnalysisPlan,
    Design,
    Group,
    Family,
    StageTransition,
    Criterion,
    Hypothesis,
    RandomisationInference,
    Disclosure,
    Deviation,
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_models_are_frozen_and_forbid_extra_keys(model: type[pydantic.BaseModel]) -> None:
    assert model.model_config.get("frozen") is True
    assert model.model_config.get("extra") == "forbid"


def test_assigning_a_plan_attribute_raises(example: LoadedPlan) -> None:
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        example.plan.alpha = 0.01  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        example.plan.hypotheses[0].kind = "score_gap"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        example.plan.design.arms = ("a", "b")  # type: ignore[misc]


def test_extra_key_in_a_model_raises() -> None:
    with pytest.raises(pydantic.ValidationError) as info:
        Design.model_validate({"assignment": "randomised", "arms": ["a", "b"], "colour": "red"})
    assert [e["type"] for e in info.value.errors()] == ["extra_forbidden"]
    assert info.value.errors()[0]["loc"] == ("colour",)


def test_stage_transition_is_written_with_from() -> None:
    stage = StageTransition.model_validate({"from": "applied", "to": "hired"})
    assert stage.from_ == "applied"
    assert stage.model_dump(by_alias=True) == {"from": "applied", "to": "hired"}


# --------------------------------------------------------------------------------------
# generated files and the JSON Schema


def test_generated_files_are_the_reference_files() -> None:
    assert set(reference.GENERATED) == {
        Path("analysis_plans/plan.schema.json"),
        Path("pilot_eval/formats/plan.schema.json"),
        Path("pilot_eval/formats/results.schema.json"),
        Path("docs/plan-reference.md"),
        Path("docs/data-dictionary.md"),
    }
    assert reference.ROOT == ROOT


def test_schema_file_equals_the_generated_schema() -> None:
    committed = (ROOT / "analysis_plans" / "plan.schema.json").read_text(encoding="utf-8")
    assert committed == reference.schema_text(), (
        "analysis_plans/plan.schema.json is stale; run `make schema`"
    )
    assert json.loads(committed) == plan_json_schema()


@pytest.mark.parametrize("rel", sorted(reference.GENERATED, key=str), ids=lambda p: p.as_posix())
def test_generated_file_is_up_to_date(rel: Path) -> None:
    committed = (ROOT / rel).read_text(encoding="utf-8")
    assert committed == reference.GENERATED[rel](), (
        f"{rel.as_posix()} differs from what pilot_eval/reference.py generates; "
        "run `make schema` and commit the result"
    )


def test_schema_describes_the_plan_format() -> None:
    schema = plan_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) >= {"plan_format", "id", "design", "hypotheses"}
    for name, definition in schema["$defs"].items():
        assert definition.get("additionalProperties") is False, name
    stage = schema["$defs"]["StageTransition"]["properties"]
    assert set(stage) == {"from", "to"}


def _example_as_json() -> Any:
    # Dates become ISO text, as a YAML-aware editor hands them to a JSON Schema validator.
    return json.loads(json.dumps(example_data(), default=str))


def test_json_schema_validates_the_example_plan() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(_example_as_json(), plan_json_schema())


def test_json_schema_validates_the_example_plan_with_quoted_booleans() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = _example_as_json()
    data["groups"]["disability"]["focal"] = ["true"]
    data["groups"]["disability"]["reference"] = ["false"]
    jsonschema.validate(data, plan_json_schema())


def test_json_schema_allows_the_boolean_group_values_the_loader_accepts() -> None:
    items = plan_json_schema()["$defs"]["Group"]["properties"]["focal"]["items"]
    allowed = {items["type"]} if "type" in items else {s.get("type") for s in items["anyOf"]}
    assert "boolean" in allowed


def test_adjust_for_is_refused_on_within_vacancy_kinds(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    estimator: mantel_haenszel\n",
        "    estimator: mantel_haenszel\n    adjust_for: [salary_scale]\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].adjust_for"
    assert "vacancy fixed effects" in problem.rule


def test_score_gap_takes_no_stage(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    score: questionnaire_score\n",
        "    score: questionnaire_score\n    stage: {from: applied, to: invited}\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[5].stage"


def test_yaml_yes_and_no_are_refused(tmp_path: Path) -> None:
    # YAML 1.1 reads an unquoted yes as a boolean: a group value 'yes' would become 'true'
    text = edit(
        EXAMPLE_TEXT,
        "  disability: {column: disability, focal: [true], reference: [false]}",
        "  disability: {column: disability, focal: [yes], reference: [false]}",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.value == "yes"
    assert "quote" in problem.rule


def test_hash_is_independent_of_writing_min_effect_at_no_effect(
    tmp_path: Path, example: LoadedPlan
) -> None:
    # H5 is decided by a ratio (impact_ratio_cr2): no effect is 1; H2 by a difference: 0
    text = edit(
        EXAMPLE_TEXT,
        "    decided_by: impact_ratio_cr2\n",
        "    decided_by: impact_ratio_cr2\n    criterion: {min_effect: 1.0}\n",
    )
    text = edit(
        text, "    estimator: lpm_fe\n", "    estimator: lpm_fe\n    criterion: {min_effect: 0}\n"
    )
    assert load_text(tmp_path, text).sha256 == example.sha256
    changed = edit(text, "criterion: {min_effect: 1.0}", "criterion: {min_effect: 0.0}")
    assert load_text(tmp_path, changed).sha256 != example.sha256


ROBUSTNESS_TAIL = "    exclude: {department: [DEF]}\n"


def test_reweight_only_robustness_specification_is_accepted(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        ROBUSTNESS_TAIL,
        ROBUSTNESS_TAIL + "  - id: R9\n    reweight: [department, salary_scale]\n",
    )
    plan = load_text(tmp_path, text).plan
    spec = plan.robustness[-1]
    # reweighting compares arms: of the primary hypotheses H1-H3 all compare arms
    assert [h.id for h in plan.robustness_targets(spec)] == ["H1", "H2", "H3"]


def test_robustness_adjust_for_only_for_shares_and_gaps(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        ROBUSTNESS_TAIL,
        ROBUSTNESS_TAIL
        + "  - id: R9\n    adjust_for: [salary_scale]\n    hypotheses: [H1, H2, H5]\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "robustness[5].adjust_for"
    assert "H5 (impact_ratio)" in problem.rule


def test_robustness_randomisation_needs_a_randomised_design(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "assignment: block_randomised", "assignment: matched")
    text = edit(
        text,
        ROBUSTNESS_TAIL,
        ROBUSTNESS_TAIL + "  - id: R9\n    estimator: randomisation\n    hypotheses: [H1]\n",
    )
    problems = plan_problems(tmp_path, text, "problem in the plan")
    assert any(p.column == "robustness[5].estimator" for p in problems)


def test_decided_by_must_be_a_cluster_aware_test_of_the_kind(tmp_path: Path) -> None:
    text = edit(
        EXAMPLE_TEXT,
        "    decided_by: lpm_cr2\n    alternative: less",
        "    decided_by: mantel_haenszel\n    alternative: less",
    )  # H4
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].decided_by"
    assert problem.value == "mantel_haenszel"
    assert "not a cluster-aware test of stage_gap" in problem.rule
    assert "lpm_cr2, difference_pooled_cr2" in problem.rule


def test_decided_by_randomisation_needs_a_randomised_design(tmp_path: Path) -> None:
    text = edit(EXAMPLE_TEXT, "assignment: block_randomised", "assignment: self_selected")
    text = edit(
        text,
        "    decided_by: lpm_cr2\n    alternative: greater\n    estimator: lpm_fe",
        "    decided_by: randomisation\n    alternative: greater\n    estimator: lpm_fe",
    )  # H2
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[1].decided_by"
    assert "needs a randomised design" in problem.rule


def test_min_effect_must_be_on_the_scale_of_the_deciding_test(tmp_path: Path) -> None:
    # H4 reports an odds ratio but is decided by a difference: an odds-ratio threshold
    # cannot be tested by it
    text = edit(
        EXAMPLE_TEXT,
        "    estimator: mantel_haenszel\n",
        "    estimator: mantel_haenszel\n    criterion: {min_effect: 0.8}\n",
    )
    problem = only_problem(tmp_path, text, "problem in the plan")
    assert problem.column == "hypotheses[3].criterion.min_effect"
    assert "lpm_cr2, which decides, reports a difference" in problem.rule


@pytest.mark.parametrize(
    ("kind", "estimator", "deciding"),
    [
        ("stage_gap", "lpm_fe", "lpm_cr2"),
        ("stage_gap", "mantel_haenszel", "lpm_cr2"),
        ("stage_gap", "difference_pooled", "difference_pooled_cr2"),
        ("gap_difference", "difference_pooled", "lpm_cr2"),
        ("pool_share", "randomisation", "randomisation"),
        ("impact_ratio", "fisher_exact", "impact_ratio_cr2"),
        ("score_gap", "hedges_g", "hedges_g_cr2"),
        ("score_gap", "hedges_g_cr2", "hedges_g_cr2"),
    ],
)
def test_deciding_test_defaults_to_the_cluster_aware_counterpart(
    kind: str, estimator: str, deciding: str
) -> None:
    assert deciding_default(kind, estimator) == deciding
    assert deciding in CLUSTER_AWARE
    assert deciding in ESTIMATORS_BY_KIND[kind]


def test_hash_is_independent_of_writing_the_default_deciding_test(
    tmp_path: Path, example: LoadedPlan
) -> None:
    data = example_data()
    for h in data["hypotheses"]:
        del h["decided_by"]  # each names its default
    assert load_text(tmp_path, dump(data)).sha256 == example.sha256
    data["hypotheses"][0]["decided_by"] = "randomisation"
    assert load_text(tmp_path, dump(data)).sha256 != example.sha256
