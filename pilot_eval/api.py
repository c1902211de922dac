"""The Python interface of pilot-eval: what the ``pilot-eval`` commands do, as functions.

>>> from pilot_eval import run_plan, validate, verify
>>> checked = validate("analysis_plans/breed-werven-2024.yaml", "data/synthetic")
>>> outcome = run_plan("analysis_plans/breed-werven-2024.yaml", "data/synthetic", "out")
>>> verify("out").exit_code
0

Each function raises a :class:`~pilot_eval.errors.PilotEvalError` (with every problem of
the input listed) where the command would exit 2. Paths may be absolute or relative; what
is recorded in outputs (the command in manifest.json) is relative to the working folder,
so that a reviewer can re-run it from the same place. Heavy modules are imported when a
function is called, so ``import pilot_eval`` stays quick.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pilot_eval.review.tolerance import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    from pilot_eval.analysis.records import Results
    from pilot_eval.data.bundle import Bundle
    from pilot_eval.plan.model import LoadedPlan
    from pilot_eval.review.verify import Verification

PathLike = str | Path


@dataclass(frozen=True)
class Validation:
    """A plan and a data bundle that passed every check.

    Attributes
    ----------
    plan:
        The loaded plan with its SHA-256.
    bundle:
        The validated tables, with the exclusion ledger.
    summary:
        The plain-text summary ``pilot-eval validate`` prints (counts per arm, missing
        demographics per arm, stage counts of all arms together).
    """

    plan: LoadedPlan
    bundle: Bundle
    summary: str


@dataclass(frozen=True)
class RunOutcome:
    """What :func:`run_plan` wrote.

    Attributes
    ----------
    out:
        The output folder.
    results:
        The content of results.json as a dictionary (numbers rounded as written).
    files:
        Every file written, relative to ``out`` -> its SHA-256 (manifest.json included).
    pdf_skipped:
        Why the PDF report was not written, when it was asked for and WeasyPrint or its
        system libraries are missing; None otherwise.
    """

    out: Path
    results: dict[str, Any]
    files: dict[str, str]
    pdf_skipped: str | None

    @property
    def record(self) -> Results:
        """results.json as its typed, frozen record (:func:`read_results`)."""
        from pilot_eval.analysis.records import Results

        return Results.model_validate(self.results)


def validate(plan: PathLike, data: PathLike) -> Validation:
    """Check the plan and the data bundle against each other (``pilot-eval validate``).

    Raises
    ------
    PilotEvalError
        With every problem of the plan, or of the bundle, at once.
    """
    from pilot_eval.data.bundle import load_bundle
    from pilot_eval.data.summary import bundle_summary
    from pilot_eval.plan.model import load_plan

    loaded = load_plan(Path(plan))
    bundle = load_bundle(Path(data), loaded.plan)
    return Validation(plan=loaded, bundle=bundle, summary=bundle_summary(bundle, loaded.plan))


def run_plan(
    plan: PathLike,
    data: PathLike,
    out: PathLike,
    *,
    lang: Literal["nl", "en"] = "nl",
    exploratory: bool = False,
    force: bool = False,
    pdf: bool = True,
    register: PathLike | None = None,
) -> RunOutcome:
    """Run the locked plan on the bundle and write results, report and manifest into
    ``out`` (``pilot-eval run``).

    Parameters
    ----------
    plan, data, out:
        The plan file, the bundle folder and the output folder.
    lang:
        Language of the report.
    exploratory:
        Run a plan that is not (or no longer) the locked version; every output says so.
    force:
        Replace an existing output folder.
    pdf:
        Also write the PDF report. When WeasyPrint or its system libraries are missing, the
        PDF is skipped and :attr:`RunOutcome.pdf_skipped` says why; the rest is written.
    register:
        The plan's release register (:mod:`pilot_eval.privacy.releases`): the run is refused when
        its applications differ from an earlier release by fewer than ``min_cell``, and
        recorded there once written.

    Raises
    ------
    PilotEvalError
        On a bad plan, lock or bundle, an existing ``out`` without ``force``, or a release
        the register refuses; nothing is written then.
    ValueError
        On a language other than ``nl`` or ``en``.
    """
    from pilot_eval.pipeline.outputs import (
        check_destination,
        manifest,
        relative,
        staged_folder,
        write_files,
    )
    from pilot_eval.pipeline.run import (
        evaluate,
        input_hashes,
        output_software_versions,
        prepare_inputs,
    )
    from pilot_eval.privacy.releases import guard
    from pilot_eval.report.render import pdf_unavailable, render_outputs, templates_dir

    if lang not in ("nl", "en"):
        raise ValueError(f"lang must be 'nl' or 'en', not {lang!r}")
    plan_path, data_dir, out_dir = Path(plan), Path(data), Path(out)
    # before the work, not only when writing
    check_destination(
        out_dir, force, inputs=(plan_path, data_dir, *([Path(register)] if register else []))
    )
    templates_dir()  # a folder of one's own templates that lacks one: before the work too
    inputs = prepare_inputs(plan_path, data_dir, exploratory)
    record = guard(
        None if register is None else Path(register), "report", inputs.loaded, inputs.bundle
    )
    results = evaluate(inputs)
    command = ["pilot-eval", "run", relative(plan_path), "--data", relative(data_dir)]
    command += ["--out", relative(out_dir), "--lang", lang]
    if exploratory:
        command.append("--exploratory")
    if not pdf:
        command.append("--no-pdf")
    skipped = pdf_unavailable() if pdf else None
    results_text = results.dumps()
    with staged_folder(out_dir, force) as staging:
        texts: dict[str, str | bytes] = {"results.json": results_text}
        texts.update(render_outputs(results, lang, " ".join(command), pdf and skipped is None))
        written = write_files(staging, texts)
        manifest_text = manifest(
            command=command,
            inputs=input_hashes(inputs, plan_path, data_dir),
            software=output_software_versions(),
            outputs=written,
            exploratory=exploratory,
        )
        files = {**written, **write_files(staging, {"manifest.json": manifest_text})}
    record()
    return RunOutcome(
        out=out_dir,
        results=json.loads(results_text),
        files=dict(sorted(files.items())),
        pdf_skipped=skipped,
    )


def verify(out: PathLike, tolerance: float = DEFAULT_TOLERANCE) -> Verification:
    """Re-run what produced ``out`` from its manifest and compare (``pilot-eval verify``).

    ``tolerance`` is the relative tolerance within which floats count as the same when
    results.json is not byte-identical (:mod:`pilot_eval.review.tolerance`; default 1e-9, 0 asks for
    equal numbers). The returned record says what differs; its
    :attr:`~pilot_eval.review.verify.Verification.exit_code` is the command's exit status (0
    same, 1 differs).

    Raises
    ------
    PilotEvalError
        When the re-run cannot be done (manifest, plan or data missing or invalid).
    ValueError
        When ``tolerance`` is negative.
    """
    from pilot_eval.review.verify import verify as run_verification

    return run_verification(Path(out), tolerance)


def read_results(path: PathLike) -> Results:
    """Read a results.json into its typed, frozen record (``pilot_eval.analysis.records``).

    Raises
    ------
    OutputError
        When the file is not a results.json of the format this version writes
        (``results_format`` 1): every field that differs from the schema is listed.
    """
    import pydantic

    from pilot_eval.analysis.records import Results
    from pilot_eval.errors import OutputError

    file = Path(path)
    try:
        return Results.model_validate_json(file.read_bytes())
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:20]
        )
        raise OutputError(f"{file} is not a results.json of format 1: {problems}") from None


def plan_schema() -> dict[str, Any]:
    """The JSON Schema of the plan format, as shipped inside the package."""
    return _packaged_schema("plan.schema.json")


def results_schema() -> dict[str, Any]:
    """The JSON Schema of results.json (version ``results_format``), as shipped inside the
    package. Every results.json a run writes is valid against it."""
    return _packaged_schema("results.schema.json")


def _packaged_schema(name: str) -> dict[str, Any]:
    from importlib import resources

    text = (resources.files("pilot_eval") / "formats" / name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
