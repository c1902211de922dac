"""Generated reference files: the JSON Schemas of the plan and of results.json, the plan
reference, the data dictionary.

``python -m pilot_eval.reference`` (or ``make schema``) rewrites them; a test fails when
a committed file differs from what this module generates, so they never go stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pilot_eval.analysis.records import results_json_schema
from pilot_eval.data.files import MAX_COLUMNS, MAX_FILE_BYTES
from pilot_eval.data.tables import BOOLEAN_WORDS, REQUIRED_TABLES, TABLES
from pilot_eval.plan.model import plan_json_schema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = Path("analysis_plans/plan.schema.json")
PACKAGED_SCHEMA_PATH = Path("pilot_eval/formats/plan.schema.json")
"""The same schema inside the package, so that an installed wheel carries it
(``pilot_eval.api.plan_schema``)."""
RESULTS_SCHEMA_PATH = Path("pilot_eval/formats/results.schema.json")
"""The JSON Schema of results.json, inside the package (``pilot_eval.api.results_schema``)."""
PLAN_REFERENCE_PATH = Path("docs/plan-reference.md")
DATA_DICTIONARY_PATH = Path("docs/data-dictionary.md")


def schema_text() -> str:
    """The JSON Schema of the plan format, as committed."""
    return json.dumps(plan_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def results_schema_text() -> str:
    """The JSON Schema of results.json, as committed."""
    return json.dumps(results_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    if kind == "object" and "additionalProperties" in prop:
        return f"mapping of name to {_type_of(prop['additionalProperties'])}"
    if prop.get("format") == "date":
        return "date (YYYY-MM-DD)"
    return str(kind)


def _constraints(prop: dict[str, Any]) -> str:
    parts = []
    for key, word in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
        ("minItems", "at least items:"),
        ("minLength", "min length"),
        ("minProperties", "at least entries:"),
    ):
        if key in prop:
            parts.append(f"{word} {prop[key]}")
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    return "; ".join(parts)


def _model_table(name: str, model: dict[str, Any]) -> list[str]:
    lines = [f"### {name}", ""]
    if model.get("description"):
        lines += [" ".join(model["description"].split()), ""]
    required = set(model.get("required", []))
    lines += [
        "| key | type | required | default | rules | meaning |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, prop in model.get("properties", {}).items():
        default = json.dumps(prop["default"], ensure_ascii=False) if "default" in prop else ""
        desc = " ".join(str(prop.get("description", "")).split())
        lines.append(
            f"| `{key}` | {_type_of(prop)} | {'yes' if key in required else 'no'} | "
            f"{default.replace('|', '/')} | {_constraints(prop)} | {desc} |"
        )
    return [*lines, ""]


def plan_reference_text() -> str:
    """docs/plan-reference.md, generated from the JSON Schema."""
    schema = plan_json_schema()
    lines = [
        "# Plan reference (plan format 1)",
        "",
        "Generated from `analysis_plans/plan.schema.json` by `make schema`; do not edit by hand.",
        "Unknown keys are errors everywhere. How to write a plan: `docs/plan-guide.md`.",
        "",
        *_model_table("AnalysisPlan", schema),
    ]
    for name, model in sorted(schema.get("$defs", {}).items()):
        lines += _model_table(name, model)
    return "\n".join(lines).rstrip() + "\n"


def data_dictionary_text() -> str:
    """docs/data-dictionary.md, generated from the column specifications.

    Kept whole: it writes one document from top to bottom, section after section, as it
    reads.
    """
    lines = [
        "# Data dictionary",
        "",
        "Generated from `pilot_eval/data/tables.py` by `make schema`; do not edit by hand.",
        "",
        "A data bundle is a folder with one file per table: `vacancies` and `applications`, and",
        "optionally `interview_ratings`, `survey`, `committee_training` and `population`",
        "(docs/other-evidence.md), each as `.csv` (UTF-8, comma-separated, header line),",
        "`.parquet` or `.xlsx` (first sheet, header row); exactly one file per table. The",
        "`survey` table also has the Likert item and coder columns the plan's `survey` section",
        "names. Extra columns are kept and may be named by the",
        "plan (a group column, a block, an `adjust_for` column); a column the plan names becomes",
        "required. Cells are stripped of surrounding spaces; an empty cell is missing. Booleans",
        f"read {'/'.join(BOOLEAN_WORDS)} (any case).",
        "",
        "Rules checked across tables and against the plan:",
        "",
        "- every `applications.vacancy_id` exists in `vacancies`;",
        "- `vacancies.arm` is one of the plan's `design.arms`; every declared arm has a vacancy;",
        "- with `design.assignment: block_randomised`, the block column is never empty;",
        "- `interview_ratings.application_id` and `survey.application_id` exist in",
        "  `applications`; a rater rates a criterion of an application once;",
        "- `committee_training` has one row per department and year, and",
        "  `members_trained` <= `members_required`;",
        "- every code in a coder column of `survey` is a code of the plan's codebook;",
        "- a table with no data rows, a file that is not UTF-8 text, a damaged workbook or",
        "  parquet file, a duplicate or empty column name: each is an error;",
        f"- a file larger than {MAX_FILE_BYTES // 1024**3} GiB or a table with more than "
        f"{MAX_COLUMNS} columns is refused",
        "  before it is parsed.",
        "",
        "## Spreadsheets saved by Dutch Excel",
        "",
        "The recommended route is an `.xlsx` workbook: types, decimals and booleans come through",
        "as they are. A `.csv` is read as Dutch Excel writes it, too:",
        "",
        "- 'CSV UTF-8 (door komma's gescheiden)': read as it is;",
        "- a header with semicolons and no comma (Dutch Excel's list separator): the file is read",
        "  with `;` as separator, and a cell that is a number with a decimal comma (`7,5`) is",
        "  read as `7.5`;",
        "- WAAR and ONWAAR (Excel's Dutch TRUE and FALSE) are booleans;",
        "- 'Unicode-tekst' (UTF-16 with a byte-order mark) is read;",
        "- plain 'CSV (gescheiden door lijstscheidingsteken)' is Windows-1252, not UTF-8: it is",
        "  refused with that cause and the fix (save as 'CSV UTF-8' or as `.xlsx`), because",
        "  guessing an encoding can change a value silently.",
        "",
        "Every problem is reported at once with file, row (as in the file: the header is row 1;",
        "in parquet the first record is row 1), column, value and rule; the command exits 2 and",
        "writes nothing.",
        "",
    ]
    for table, specs in TABLES.items():
        optional = "" if table in REQUIRED_TABLES else " (optional table)"
        lines += [
            f"## {table}{optional}",
            "",
            "| column | required | type | rule | meaning |",
            "| --- | --- | --- | --- | --- |",
        ]
        for s in specs:
            rule = s.rule() if s.name != "arm" else "one of the plan's design.arms; never empty"
            lines.append(
                f"| `{s.name}` | {'yes' if s.required else 'no'} | {s.type} | "
                f"{rule.replace('|', '/')} | {s.description} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


GENERATED = {
    SCHEMA_PATH: schema_text,
    PACKAGED_SCHEMA_PATH: schema_text,
    RESULTS_SCHEMA_PATH: results_schema_text,
    PLAN_REFERENCE_PATH: plan_reference_text,
    DATA_DICTIONARY_PATH: data_dictionary_text,
}
"""Generated file (relative to the project root) -> its generator."""


def main() -> None:
    """Write every generated file."""
    for rel, make in GENERATED.items():
        path = ROOT / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make(), encoding="utf-8")


if __name__ == "__main__":
    main()
