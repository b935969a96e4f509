"""CLI for outcomes and the validity report: thin click wrappers over `services/outcomes.py` and `services/validity.py`.

The commands sit under `flask fairness validity` when the fairness group is registered (the two
reports answer one issue's two questions), else under their own `flask validity` group.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from assessments.errors import DomainError
from assessments.services import accounts, outcomes, validity

validity_group = AppGroup("validity", help="Outcomes (HR data) and the validity report.")


class InputFileError(click.ClickException):
    """A file the person handed in does not follow its format: exit code 2, like a usage error."""

    exit_code = 2


@validity_group.command("report")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--bootstrap", "n_boot", type=click.IntRange(0, 100_000), default=validity.REPORT_BOOTSTRAP, show_default=True
)
@with_appcontext
def report_command(fmt: str, n_boot: int) -> None:
    """Correlations of the auto-grade, scorecards and recommendation with each outcome; ΔR² of the auto-grade."""
    report = validity.build_validity(n_boot=n_boot)
    click.echo(validity.report_json(report) if fmt == "json" else validity.report_text(report), nl=fmt == "json")


@validity_group.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "email", required=True, help="The admin recording the outcomes (audit log).")
@with_appcontext
def import_command(source: Path, email: str) -> None:
    """Record outcomes from a CSV: candidate (email), hired, start_date, rating_6m, rating_12m."""
    actor = accounts.find_user_by_email(email)
    if actor is None:
        raise click.UsageError(f"There is no account {email}.")
    try:
        result = outcomes.import_outcomes_csv(source.read_bytes(), actor)
    except DomainError as error:
        raise InputFileError(f"{source}: {error.message}") from error
    click.echo(f"Imported outcomes: {result.created} new, {result.updated} updated.")


def init_app(app: Flask) -> None:
    """Register the group under `fairness` when that group exists, else on its own."""
    fairness = app.cli.commands.get("fairness") if isinstance(app.cli, click.Group) else None
    if isinstance(fairness, click.Group):
        fairness.add_command(validity_group)
    else:
        app.cli.add_command(validity_group)
