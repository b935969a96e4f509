"""CLI commands for cases and grading: thin click wrappers over service and grading functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from assessments.content.bundle import build_bundle
from assessments.grading.intake import SubmissionRejected, parse_submission
from assessments.grading.pipeline import grade_notebook
from assessments.grading.pool import default_pool
from assessments.grading.sandbox import SandboxUnavailable
from assessments.grading.validation import validate_cases
from assessments.outage import DATABASE_UNAVAILABLE
from assessments.queue import grading_queue
from assessments.services import catalog, grading

cases_group = AppGroup("cases", help="List, bundle and validate case studies.")


def _spec(slug: str):
    spec = catalog.case_specs().get(slug)
    if spec is None:
        raise click.ClickException(
            f"No case {slug!r}; the cases are: {', '.join(sorted(catalog.case_specs()))}."
        )
    return spec


@cases_group.command("list")
def cases_list() -> None:
    """Every case on disk with its kind, audience and version."""
    for slug, spec in sorted(catalog.case_specs().items()):
        audience = "+".join(sorted(spec.audience))
        click.echo(
            f"{slug:<18} {spec.kind:<15} {audience:<17} {spec.time_limit_minutes:>3} min  "
            f"{spec.content_hash[:12]}  {spec.title}"
        )


@cases_group.command("bundle")
@click.argument("slug")
@click.option("--seed", type=int, required=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--solution", is_flag=True, help="Keep the author's solution cells.")
def cases_bundle(slug: str, seed: int, out: Path, solution: bool) -> None:
    """Write a candidate's bundle (or the author's, with --solution) to a zip file."""
    data = build_bundle(_spec(slug), seed, solution=solution)
    out.write_bytes(data)
    click.echo(f"Wrote {out} ({len(data):,} bytes).")


@cases_group.command("validate")
@click.argument("slug", required=False)
@click.option("--seeds", default=20, show_default=True, help="How many seeds (1..N) per case.")
@click.option("--parallel", default=2, show_default=True, help="Sandboxes at once.")
def cases_validate(slug: str | None, seeds: int, parallel: int) -> None:
    """Grade each case's solution (full marks) and release notebook (zero) for many seeds."""
    specs = [_spec(slug)] if slug else [spec for _, spec in sorted(catalog.case_specs().items())]
    failures = 0
    try:
        for result in validate_cases(specs, range(1, seeds + 1), parallel=parallel):
            problems = result.problems
            failures += bool(problems)
            click.echo(
                f"{result.slug:<18} seed {result.seed:<4} solution "
                f"{result.solution.earned:g}/{result.solution.possible:g}  release "
                f"{result.release.earned:g}/{result.release.possible:g}  "
                f"{result.solution.timings.total:.1f}s  {'ok' if not problems else 'FAILED'}"
            )
            for problem in problems:
                click.echo(f"    {problem}")
    except SandboxUnavailable as error:
        raise click.ClickException(str(error)) from error
    if failures:
        raise click.ClickException(f"{failures} case seed(s) failed validation.")
    click.echo(f"All {len(specs)} case(s) valid on {seeds} seed(s).")


@click.command("grade")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--case", "slug", required=True)
@click.option("--seed", type=int, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@with_appcontext
def grade_command(notebook: Path, slug: str, seed: int, as_json: bool) -> None:
    """Grade a notebook file through the real pipeline and sandbox, without the database."""
    spec = _spec(slug)
    try:
        parsed = parse_submission(notebook.read_bytes(), case_slug=spec.slug)
        report = grade_notebook(parsed, spec, seed)
    except SubmissionRejected as error:
        raise click.ClickException(str(error)) from error
    except SandboxUnavailable as error:
        raise click.ClickException(str(error)) from error
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"{report.earned:g} / {report.possible:g}")
    for check in report.checks:
        click.echo(f"  {check.part_id:<24} {check.earned:g}/{check.possible:g}  {check.status:<9} {check.message}")
    if report.error:
        click.echo(f"error: {report.error}")


@click.command("regrade")
@click.option("--case", "slug", required=True)
@with_appcontext
def regrade_command(slug: str) -> None:
    """Queue a new grading run for every submission of a case (earlier runs are kept)."""
    count = grading.regrade_case(slug)
    click.echo(f"Queued {count} grading run(s) for {slug}.")


@click.command("grade-status")
@with_appcontext
def grade_status_command() -> None:
    """List grading runs that are queued or running."""
    runs = grading.queue_status()
    if not runs:
        click.echo("Nothing is waiting to be graded.")
    for run in runs:
        lease = run.lease_expires_at.isoformat(timespec="seconds") if run.lease_expires_at else "-"
        click.echo(
            f"run {run.id:<6} submission {run.submission_id:<6} {run.status:<8} "
            f"attempts {run.attempts}  worker {run.claimed_by or '-'}  lease until {lease}"
        )


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Grading runs at once.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run a grading consumer (any number can run, on any machine, against one database)."""
    from huey.consumer import Consumer

    from assessments.grading.sandbox import UNSAFE_SWITCH, sandbox_problem, unsafe_grading_allowed

    problem = sandbox_problem()
    if problem and not unsafe_grading_allowed():
        # Before any notebook is taken from the queue: a worker that cannot sandbox would fail every one.
        raise click.ClickException(f"this worker cannot grade notebooks: {problem}")
    if problem:
        click.echo(f"warning: grading WITHOUT a sandbox ({UNSAFE_SWITCH}=1): {problem}", err=True)
    queue = grading_queue()
    # Warm sandboxes (kernel started, libraries imported, one per submission) live only in
    # workers: pages and tests grade cold and never keep sandboxes waiting.
    if not problem:
        current_app.extensions["assessments.sandbox_pool"] = default_pool()
    # Runs the queue lost while no worker was up are found in the database at start (or by the
    # periodic sweep, if the database is not reachable yet: the worker still starts).
    try:
        grading.sweep_grade_runs()
    except DATABASE_UNAVAILABLE as error:
        click.echo(f"warning: the database did not answer ({type(error).__name__}); the periodic sweep will "
                   "catch up", err=True)
    click.echo(f"Grading worker started ({workers} at once) on {type(queue.huey).__name__}.")
    sys.stdout.flush()
    Consumer(queue.huey, workers=workers, worker_type="thread", periodic=True, check_worker_health=True).run()


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(cases_group)
    for command in (grade_command, regrade_command, grade_status_command, worker_command):
        app.cli.add_command(command)
