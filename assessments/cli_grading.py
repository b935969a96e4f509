"""CLI commands for cases and grading: thin click wrappers over service functions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from assessments.errors import DomainError
from assessments.outage import DATABASE_UNAVAILABLE
from assessments.services import authoring, catalog, grade_runs, grading, integrity, worker

cases_group = AppGroup("cases", help="List, bundle and validate case studies.")


def _spec(slug: str) -> authoring.CaseSpec:
    try:
        return authoring.find_case_spec(slug)
    except DomainError as error:
        raise click.ClickException(error.message) from error


@cases_group.command("list")
def cases_list() -> None:
    """Every case on disk with its kind, audience and version."""
    for slug, spec in sorted(catalog.case_specs().items()):
        audience = "+".join(sorted(spec.audience))
        click.echo(
            f"{slug:<18} {spec.kind:<15} {audience:<17} {spec.time_limit_minutes:>3} min  "
            f"{spec.content_hash[:12]}  {spec.title}"
        )


SEED_HELP = "A public seed id (as a bundle's name shows it), derived through this deployment's seed key."
PRACTICE_HELP = "Derive --seed as for a mentee's practice, not a hiring invitation."
RAW_SEED_HELP = "--seed is the data seed itself (invitations made before secret seeds; cases validate's seeds)."


@cases_group.command("bundle")
@click.argument("slug")
@click.option("--seed", type=int, required=True, help=SEED_HELP)
@click.option("--practice", is_flag=True, help=PRACTICE_HELP)
@click.option("--raw-seed", is_flag=True, help=RAW_SEED_HELP)
@click.option("--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@click.option("--solution", is_flag=True, help="Keep the author's solution cells.")
def cases_bundle(slug: str, seed: int, practice: bool, raw_seed: bool, out: Path, solution: bool) -> None:
    """Write a candidate's bundle (or the author's, with --solution) to a zip file."""
    data = authoring.case_bundle(_spec(slug), seed, practice=practice, raw_seed=raw_seed, solution=solution)
    out.write_bytes(data)
    click.echo(f"Wrote {out} ({len(data):,} bytes).")


@cases_group.command("validate")
@click.argument("slug", required=False)
@click.option("--seeds", default=20, show_default=True, help="How many seeds (1..N) per case.")
@click.option("--parallel", default=2, show_default=True, help="Sandboxes at once.")
@click.option(
    "--careless",
    is_flag=True,
    help="Also grade each case's careless-analyst corpus (tests/cases/careless/<case>/) and print its table.",
)
@click.option("--careless-seeds", default=10, show_default=True, help="How many seeds (0..N-1) for the corpus.")
def cases_validate(slug: str | None, seeds: int, parallel: int, careless: bool, careless_seeds: int) -> None:
    """Grade each case's solution (full marks) and release notebook (zero) for many seeds."""
    specs = [_spec(slug)] if slug else [spec for _, spec in sorted(catalog.case_specs().items())]
    if careless:
        _careless_tables(specs, careless_seeds, parallel)
    failures = 0
    try:
        for result in authoring.validate_cases(specs, range(1, seeds + 1), parallel=parallel):
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
    except DomainError as error:
        raise click.ClickException(error.message) from error
    if failures:
        raise click.ClickException(f"{failures} case seed(s) failed validation.")
    click.echo(f"All {len(specs)} case(s) valid on {seeds} seed(s).")


def _careless_tables(specs: list, seeds: int, parallel: int) -> None:
    """Print each case's careless-analyst table; fail when an entry earned what its mistake breaks."""
    broken = 0
    for spec in specs:
        if not authoring.corpus_folder(spec).is_dir():
            click.echo(f"{spec.slug}: no careless-analyst corpus.")
            continue
        click.echo(f"{spec.slug}: careless-analyst corpus on seeds 0-{seeds - 1}")
        click.echo(
            f"  {'notebook':<24} {'kind':<9} {'mean':>5}  {'verdict':<7} what it earned of the parts its work breaks"
        )
        try:
            results = authoring.careless_table(spec, range(seeds), parallel=parallel)
        except DomainError as error:
            raise click.ClickException(error.message) from error
        for result in results:
            entry = result.entry
            stated = sorted(entry.constrained)
            earned = ", ".join(f"{part} {result.part_share(part):.0%}" for part in stated) or "-"
            problems = result.problems
            broken += bool(problems)
            verdict = "holds" if not problems else "FAILED"
            click.echo(f"  {entry.name:<24} {entry.kind:<9} {result.mean_share:>5.0%}  {verdict:<7} {earned}")
            for problem in problems[:5]:
                click.echo(f"      {problem}")
    if broken:
        raise click.ClickException(f"{broken} corpus notebook(s) earned what their mistake should cost.")


@click.command("grade")
@click.argument("notebook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--case", "slug", required=True)
@click.option("--seed", type=int, required=True, help=SEED_HELP)
@click.option("--practice", is_flag=True, help=PRACTICE_HELP)
@click.option("--raw-seed", is_flag=True, help=RAW_SEED_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@with_appcontext
def grade_command(notebook: Path, slug: str, seed: int, practice: bool, raw_seed: bool, as_json: bool) -> None:
    """Grade a notebook file through the real pipeline and sandbox, without the database."""
    spec = _spec(slug)
    try:
        report = authoring.grade_file(notebook.read_bytes(), spec, seed, practice=practice, raw_seed=raw_seed)
    except DomainError as error:
        raise click.ClickException(error.message) from error
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
    runs = grade_runs.queue_status()
    if not runs:
        click.echo("Nothing is waiting to be graded.")
    for run in runs:
        lease = run.lease_expires_at.isoformat(timespec="seconds") if run.lease_expires_at else "-"
        click.echo(
            f"run {run.id:<6} {run.subject:<16} {run.subject_id:<6} {run.status:<8} "
            f"attempts {run.attempts}  worker {run.claimed_by or '-'}  lease until {lease}"
        )


@click.command("worker")
@click.option("--workers", default=2, show_default=True, help="Grading runs at once.")
@with_appcontext
def worker_command(workers: int) -> None:
    """Run a grading consumer (any number can run, on any machine, against one database)."""
    try:
        warning = worker.prepare_worker()
    except DomainError as error:
        raise click.ClickException(error.message) from error
    if warning:
        click.echo(f"warning: {warning}", err=True)
    # Runs the queue lost while no worker was up are found in the database at start (or by the
    # periodic sweep, if the database is not reachable yet: the worker still starts).
    try:
        grade_runs.sweep_grade_runs()
    except DATABASE_UNAVAILABLE as error:
        click.echo(
            f"warning: the database did not answer ({type(error).__name__}); the periodic sweep will catch up", err=True
        )
    click.echo(f"Grading worker started ({workers} at once) on {worker.queue_backend()}.")
    click.echo(f"Memory bound: {worker.memory_bound_description()}")
    click.echo(f"Grading path: {worker.grading_path_description()}")
    sys.stdout.flush()
    worker.consume(workers)


integrity_group = AppGroup("integrity", help="Integrity flags for admins: evidence to weigh, never a verdict.")


def _who(ref: integrity.SubmissionRef) -> str:
    return f"{ref.candidate_name} (invitation {ref.invitation_id}, version {ref.version})"


def _indented(text: str, prefix: str = "      ") -> str:
    return "\n".join(prefix + line for line in (text.splitlines() or [""]))


def _echo_code_match(title: str, match: integrity.CodeMatch, right: str) -> None:
    click.echo(
        f"\n{title}: Jaccard {match.jaccard:.2f}, containment {match.containment:.2f}, "
        f"{match.shared} shared runs of {integrity.SHINGLE_TOKENS} tokens."
    )
    for snippet in match.snippets:
        click.echo(f"    cell {snippet.left_cell} of the first:")
        click.echo(_indented(snippet.left))
        click.echo(f"    cell {snippet.right_cell} of {right}:")
        click.echo(_indented(snippet.right))


@integrity_group.command("report")
@click.option("--case", "slug", required=True)
@with_appcontext
def integrity_report_command(slug: str) -> None:
    """Print a case's integrity flags with the evidence side by side."""
    try:
        report = integrity.integrity_report(slug)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(
        f"{report.case_slug}: {report.compared} submissions compared against each other and {report.keys} keys; "
        f"{report.flag_count} flags ({report.seconds:.1f} s). A flag is evidence for a person to weigh, never a verdict."
    )
    for flag in report.borrowed_keys:
        comparison = flag.comparison
        click.echo(
            f"\nBorrowed key: {_who(flag.submission)} matches the key of {flag.key_of_candidate} "
            f"(invitation {flag.key_of_invitation}) on {comparison.other_matches} parts, its own key on "
            f"{comparison.own_matches}, counting the numeric and list parts where the two keys differ."
        )
        for part in comparison.parts:
            mark = "other key" if part.matches_other else "own key" if part.matches_own else "neither"
            counted = "" if part.counted else "  (not counted: a guess fits some key)"
            click.echo(f"    {part.part_id:<20} matches {mark:<9}  answer {part.answer}{counted}")
            click.echo(f"    {'':<20} own key {part.own_key}  ·  other key {part.other_key}")
    for flag in report.code:
        _echo_code_match(f"Near-duplicate code: {_who(flag.left)} and {_who(flag.right)}", flag.match, "the second")
    for solution in report.solution:
        _echo_code_match(
            f"Close to the author's solution: {_who(solution.submission)}", solution.match, "the author's solution"
        )
    for flag in report.written:
        names = ", ".join(_who(ref) for ref in flag.submissions)
        click.echo(f"\nIdentical written answer to {flag.part_id}: {names}")
        click.echo(_indented(flag.text))
    for ref, invitation_id, why in report.not_compared:
        who = _who(ref) if ref else f"invitation {invitation_id}"
        click.echo(f"\nNot fully compared: {who}: {why}.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(cases_group)
    app.cli.add_command(integrity_group)
    for command in (grade_command, regrade_command, grade_status_command, worker_command):
        app.cli.add_command(command)
