"""The ``pilot-eval`` command line (contract section 3).

Every error caused by input ends in a message on standard error and exit status 2, never
a traceback and never a partial output folder. Heavy modules are imported inside the
commands that need them, so ``pilot-eval --help`` starts quickly.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from pilot_eval import __version__
from pilot_eval.errors import PilotEvalError
from pilot_eval.review.tolerance import DEFAULT_TOLERANCE

EXIT_PROBLEM = 2
EXIT_INTERNAL = 3
DEBUG_VARIABLE = "PILOT_EVAL_DEBUG"
"""Set to 1 to see the traceback of an internal error."""

_path = click.Path(path_type=Path)
_existing_file = click.Path(path_type=Path, exists=True, dir_okay=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pilot-eval")
def cli() -> None:
    """Pre-registered, reproducible evaluation of the pilot "breed werven en objectief
    selecteren"."""


@cli.command()
@click.argument("plan", type=_existing_file)
@click.option("--data", "data_dir", type=_path, required=True, help="Folder of the data bundle.")
def validate(plan: Path, data_dir: Path) -> None:
    """Check PLAN and the data bundle; print a summary of the data."""
    from pilot_eval.api import validate as check

    checked = check(plan, data_dir)
    click.echo(
        f"Plan {plan.name}: valid (id {checked.plan.plan.id}, sha256 {checked.plan.sha256})."
    )
    click.echo(checked.summary)


@cli.command()
@click.argument("plan", type=_existing_file)
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date recorded in the lock entry (YYYY-MM-DD); default today.",
)
def lock(plan: Path, on: dt.datetime | None) -> None:
    """Register PLAN in its lock file, or record an amendment after a new deviation."""
    from pilot_eval.plan.lock import lock_plan
    from pilot_eval.plan.model import load_plan

    loaded = load_plan(plan)
    history, what = lock_plan(loaded, on.date() if on else dt.date.today())
    last = history.last
    if what == "unchanged":
        click.echo(f"{plan.name} is already locked as entry {last.sequence}; nothing to do.")
    else:
        click.echo(
            f"{plan.name} {what} in {history.path.name} as entry {last.sequence} "
            f"(sha256 {last.sha256})."
        )


@cli.command()
@click.argument("plan", type=_existing_file)
@click.option("--vacancies", type=click.IntRange(min=4), required=True, help="Vacancies, all arms.")
@click.option(
    "--applications-per-vacancy", type=click.FloatRange(min=1), required=True, help="Average."
)
@click.option("--icc", type=click.FloatRange(0, 1), default=0.02, show_default=True)
@click.option(
    "--arm-share",
    type=click.FloatRange(0.01, 0.99),
    default=0.5,
    show_default=True,
    help="Share of vacancies in the compared arm.",
)
@click.option(
    "--missing",
    type=click.FloatRange(0, 0.95),
    default=0.2,
    show_default=True,
    help="Share of applications without the group value.",
)
@click.option("--all-families", is_flag=True, help="Every hypothesis, not only the primary family.")
def power(
    plan: Path,
    vacancies: int,
    applications_per_vacancy: float,
    icc: float,
    arm_share: float,
    missing: float,
    all_families: bool,
) -> None:
    """Minimum detectable effect per hypothesis of PLAN at 80% power, before the data."""
    from pilot_eval.design.power import PowerSettings, power_table
    from pilot_eval.plan.model import load_plan

    loaded = load_plan(plan)
    settings = PowerSettings(
        vacancies=vacancies,
        applications_per_vacancy=applications_per_vacancy,
        icc=icc,
        arm_share=arm_share,
        missing=missing,
    )
    click.echo(power_table(loaded.plan, settings, all_families))


@cli.command()
@click.option("--out", type=_path, required=True, help="Folder to write the bundle into.")
@click.option("--seed", type=click.IntRange(min=0), default=20240901, show_default=True)
@click.option(
    "--vacancies",
    type=click.IntRange(min=6),
    default=240,
    show_default=True,
    help="Number of vacancies.",
)
@click.option(
    "--optional-tables/--required-tables-only",
    default=True,
    show_default=True,
    help="Also write interview_ratings, survey, committee_training and population.",
)
@click.option(
    "--gap-sd",
    type=click.FloatRange(min=0, max=0.3),
    default=0.0,
    show_default=True,
    help="SD across vacancies of every origin gap in progression (probability scale).",
)
@click.option(
    "--stage-correlation",
    type=click.FloatRange(min=0, max=1, max_open=True),
    default=0.0,
    show_default=True,
    help="Correlation across an applicant's transitions (a shared ability).",
)
@click.option(
    "--selective-nonresponse",
    type=click.FloatRange(min=0, max=1),
    default=0.0,
    show_default=True,
    help="Extra probability that a control applicant of origin outside Europe leaves origin open.",
)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
def simulate(
    out: Path,
    seed: int,
    vacancies: int,
    optional_tables: bool,
    gap_sd: float,
    stage_correlation: float,
    selective_nonresponse: float,
    force: bool,
) -> None:
    """Write a synthetic data bundle with known true effects (truth.json)."""
    from pilot_eval.design.simulate import simulate_bundle, write_bundle
    from pilot_eval.pipeline.outputs import staged_folder

    bundle = simulate_bundle(
        seed=seed,
        n_vacancies=vacancies,
        optional=optional_tables,
        gap_sd=gap_sd,
        stage_correlation=stage_correlation,
        selective_nonresponse=selective_nonresponse,
    )
    with staged_folder(out, force) as staging:
        write_bundle(bundle, staging)
    click.echo(
        f"Wrote {len(bundle.vacancies)} vacancies and {len(bundle.applications)} applications "
        + (f"with the optional tables {', '.join(bundle.optional)} " if bundle.optional else "")
        + f"to {out} (seed {seed})."
    )


_register_option = click.option(
    "--register",
    type=_path,
    default=None,
    help="The plan's release register (JSON, kept beside the plan, never published): refuse "
    "a release whose applications differ from an earlier one by fewer than min_cell, and "
    "record this one.",
)


@cli.command()
@click.argument("plan", type=_existing_file)
@click.option("--data", "data_dir", type=_path, required=True, help="Folder of the data bundle.")
@click.option("--out", type=_path, required=True, help="Folder for results and report.")
@click.option("--lang", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
@click.option(
    "--exploratory", is_flag=True, help="Run a plan that is not locked; outputs are marked."
)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option(
    "--no-pdf", is_flag=True, help="Write the report as HTML and Markdown only, without the PDF."
)
@_register_option
def run(
    plan: Path,
    data_dir: Path,
    out: Path,
    lang: str,
    exploratory: bool,
    force: bool,
    no_pdf: bool,
    register: Path | None,
) -> None:
    """Run the locked PLAN on the data bundle; write results, report and manifest.

    Without WeasyPrint or its system libraries the PDF is skipped, with a note; the HTML
    and Markdown reports are written as always."""
    from pilot_eval.api import run_plan

    outcome = run_plan(
        plan,
        data_dir,
        out,
        lang="en" if lang == "en" else "nl",
        exploratory=exploratory,
        force=force,
        pdf=not no_pdf,
        register=register,
    )
    _echo_verdicts(outcome.results)
    if outcome.pdf_skipped:
        click.echo(f"PDF report skipped: {outcome.pdf_skipped}.", err=True)
    written = ", ".join(name for name in outcome.files if not name.startswith("figures/"))
    click.echo(f"Wrote {written} and the figures to {out}.")


@cli.command()
@click.argument("out", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0, max=1),
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Relative tolerance within which numbers count as the same when results.json is not "
    "byte-identical (another CPU changes the last digits); 0 asks for equal numbers.",
)
def verify(out: Path, tolerance: float) -> int:
    """Re-run what produced OUT (from its manifest) and compare: 0 the same (byte-identical,
    or numbers within the tolerance, with a note), 1 differs, 2 cannot run, 3 internal
    error. Run it from the folder the original command was run in."""
    from pilot_eval.api import verify as check

    result = check(out, tolerance)
    click.echo(result.report())
    return result.exit_code


@cli.command("bundle")
@click.argument("out", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--to", "to", type=_path, required=True, help="The zip file to write.")
@click.option("--without-data", is_flag=True, help="Only the data files' SHA-256, not the data.")
def bundle_command(out: Path, to: Path, without_data: bool) -> None:
    """Pack plan, lock, data and the output folder OUT into one zip for a reviewer, who
    unpacks it and runs 'pilot-eval verify OUT' there."""
    from pilot_eval.review.archive import bundle

    names = bundle(out, to, with_data=not without_data)
    click.echo(f"Wrote {to} with {len(names)} files.")


@cli.command()
@click.argument("plan", type=_existing_file)
@click.option("--data", "data_dir", type=_path, default=None, help="Take the design from a bundle.")
@click.option(
    "--simulate",
    "synthetic",
    is_flag=True,
    help="Take the design from the synthetic generator (with --vacancies).",
)
@click.option(
    "--vacancies",
    type=click.IntRange(min=6),
    default=240,
    show_default=True,
    help="Vacancies of the synthetic design (--simulate).",
)
@click.option(
    "--sims",
    type=click.IntRange(min=1, max=100_000),
    default=None,
    help="Runs per scenario; default the plan's diagnosis.sims (500).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Local worker processes.",
)
@click.option("--scheduler", default=None, help="Address of a Dask distributed scheduler.")
@click.option("--out", type=_path, required=True, help="Folder for diagnosis.json and its report.")
@click.option("--lang", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
def diagnose(
    plan: Path,
    data_dir: Path | None,
    synthetic: bool,
    vacancies: int,
    sims: int | None,
    jobs: int,
    scheduler: str | None,
    out: Path,
    lang: str,
    force: bool,
) -> None:
    """Diagnose PLAN's design by simulation: power, bias, RMSE, coverage, type-I and type-S
    error and exaggeration per hypothesis, under the plan's declared effects and under none."""
    from pilot_eval.pipeline.diagnose import run_diagnosis

    if (data_dir is None) == (not synthetic):
        raise click.UsageError("give either --data DIR or --simulate")
    summary = run_diagnosis(
        plan,
        data_dir,
        vacancies,
        sims,
        jobs,
        scheduler,
        out,
        "en" if lang == "en" else "nl",
        force,
    )
    if summary["warning"]:
        click.echo(f"Warning: {summary['warning']}.", err=True)
    click.echo(f"{summary['sims']} runs per scenario; per hypothesis power and type-I error:")
    for h in summary["hypotheses"]:
        power, size = h["declared"]["power"], h["null"]["type_i_error"]
        flag = "  (above 1.5 x alpha)" if h["null"]["type_i_inflated"] else ""
        click.echo(
            f"  {h['id']:<6} {h['kind']:<15} power {_fmt(power)}  type-I error {_fmt(size)}{flag}"
        )
    if summary["type_i_inflated"]:
        click.echo(
            "Warning: under no effect the deciding test of "
            f"{', '.join(summary['type_i_inflated'])} rejects more often than 1.5 x alpha.",
            err=True,
        )
    click.echo(f"Wrote diagnosis.json, diagnosis.{lang}.md, diagnosis.{lang}.html to {out}.")


def _fmt(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


@cli.command("export-open-data")
@click.argument("plan", type=_existing_file)
@click.option("--data", "data_dir", type=_path, required=True, help="Folder of the data bundle.")
@click.option("--out", type=_path, required=True, help="Folder for the open data and its report.")
@click.option("--lang", type=click.Choice(["nl", "en"]), default="nl", show_default=True)
@click.option(
    "--exploratory", is_flag=True, help="Use a plan that is not locked; outputs are marked."
)
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@_register_option
def export_open_data(
    plan: Path,
    data_dir: Path,
    out: Path,
    lang: str,
    exploratory: bool,
    force: bool,
    register: Path | None,
) -> None:
    """Write anonymised microdata of the bundle that pass disclosure control (new ids, no
    free text, every combination of quasi-identifiers at least k times), with a report of
    what was recoded and suppressed and of the plan's results on the open data."""
    from pilot_eval.pipeline.export import export_open_data as export
    from pilot_eval.report.render import Formatter

    shown = Formatter(lang="en", min_cell=1).count  # a hidden count (None) as "×"

    summary = export(
        plan, data_dir, out, "en" if lang == "en" else "nl", exploratory, force, register
    )
    risk = summary["protection"]["risk"]
    click.echo(
        f"Wrote {summary['open_data']['n_applications']} applications of "
        f"{summary['open_data']['n_vacancies']} vacancies to {out}: smallest class "
        f"{risk['smallest_class']} (k = {summary['protection']['k_anonymity']}), "
        f"l-diversity of the outcome {risk['l_diversity']}, "
        f"{summary['verdicts_changed']} verdict(s) differ on the open data. Insider risk: "
        f"{shown(risk['applications_unique_on_vacancy_and_scores'])} application(s) unique "
        "on vacancy and scores; the committee can read origin or disability of "
        f"{shown(risk['applications_sensitive_known_to_committee'])}."
    )


def _echo_verdicts(results: dict[str, Any]) -> None:
    plan = results["plan"]
    if plan["exploratory"]:
        state = "matches its lock" if plan["locked"] else "is not the locked version"
        click.echo(f"EXPLORATORY run (the plan {state}); every output is marked exploratory.")
    click.echo(f"  {'':<6} {'':<15} {'decided by':<22} {'estimate':>9}  {'p adj.':>7}  verdict")
    for h in results["hypotheses"]:
        decision = h.get("decision") or h
        est, p_adj = decision["estimate"], h["p_adjusted"]
        shown = "n/a" if est is None else f"{est:.4f}"
        p_shown = "n/a" if p_adj is None else f"{p_adj:.4f}"
        click.echo(
            f"  {h['id']:<6} {h['kind']:<15} {h.get('decided_by', h['estimator']):<22} "
            f"{shown:>9}  {p_shown:>7}  {h['verdict']}"
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pilot-eval`` script: exit 2 with a message on bad input."""
    try:
        code = cli.main(args=argv, prog_name="pilot-eval", standalone_mode=False)
    except PilotEvalError as exc:
        click.echo(f"pilot-eval: {exc.report()}", err=True)
        sys.exit(EXIT_PROBLEM)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_PROBLEM)
    except click.exceptions.Abort:
        click.echo("pilot-eval: interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("pilot-eval: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        # a fault of pilot-eval itself, not of the input: a distinct status, so that a
        # reviewer's script never reads a crash as "differs" (1) or "bad input" (2)
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        click.echo(
            f"pilot-eval: internal error ({type(exc).__name__}: {exc}). This is a fault of "
            f"pilot-eval, not of your input; please report it with the command. Set "
            f"{DEBUG_VARIABLE}=1 to see the traceback.",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
