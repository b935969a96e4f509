"""Flask CLI commands: thin click wrappers over service functions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from flask_migrate import upgrade

from assessments.errors import DomainError
from assessments.models import Role
from assessments.services import accounts, calibration, calibration_exports, catalog, demo, invitations, outbox


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, then sync cases from `cases/`."""
    upgrade()
    catalog.forget_loaded_cases()
    rows = catalog.sync_cases()
    click.echo(f"Database is up to date; {len(rows)} case(s) synced.")


@click.command("create-user")
@with_appcontext
@click.option("--email", prompt=True)
@click.option("--name", prompt="Display name")
@click.option("--role", type=click.Choice([r.value for r in Role]), prompt=True)
@click.password_option()
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create an account."""
    try:
        user = accounts.create_user(email, name, role, password)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Created {user.role} {user.email}.")


@click.command("seed-demo")
@with_appcontext
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
def seed_demo_command(base_url: str) -> None:
    """Create the demo accounts, candidates and invitations (safe to run again)."""
    links = demo.seed_demo()
    click.echo(f"Demo accounts (password: {demo.DEMO_PASSWORD}):")
    for user in demo.demo_users():
        click.echo(f"  {user.role:<12} {user.email}")
    click.echo("Demo candidate links:")
    for link in links:
        click.echo(f"  {link.candidate:<18} {link.case:<16} {base_url}{link.path}")


def _deadline(_ctx: click.Context, _param: click.Parameter, value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date and time, e.g. 2027-01-15T17:00+01:00.") from error
    # A deadline without an offset is read as UTC, and said so in the output.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.command("invite")
@with_appcontext
@click.argument("email")
@click.option("--case", "case_slug", required=True, help="The hiring case's slug (its folder under cases/).")
@click.option(
    "--deadline",
    required=True,
    callback=_deadline,
    metavar="ISO8601",
    help="e.g. 2027-01-15T17:00+01:00; UTC when no offset is given.",
)
@click.option(
    "--panel", default="", metavar="EMAIL,EMAIL", help="Interviewers' emails; leave out to add the panel later."
)
@click.option("--timed", is_flag=True, help="Enforce the case's time limit from the first download.")
@click.option("--name", help="The candidate's name (needed for someone not yet a candidate).")
def invite_command(email: str, case_slug: str, deadline: datetime, panel: str, timed: bool, name: str | None) -> None:
    """Invite EMAIL to a hiring case and print their link (mailed to them when MAIL_URL is set)."""
    notify = outbox.mail_configured()
    try:
        invitation, token, existed = invitations.invite_from_script(
            email,
            case_slug,
            due_at=deadline,
            panel_emails=[e.strip() for e in panel.split(",") if e.strip()],
            name=name,
            timed=timed,
            notify=notify,
        )
    except DomainError as error:
        raise click.ClickException(error.message) from error
    candidate = invitation.candidate
    if existed:
        click.echo(f"{candidate.email} is already a candidate ({candidate.name}): added this case for them.")
    click.echo(
        f"Invited {candidate.name} <{candidate.email}> to {invitation.case.title}, "
        f"due {invitation.due_at:%Y-%m-%d %H:%M} UTC{', timed' if timed else ''}."
    )
    if not invitation.panel:
        click.echo('No panel yet: the invitation shows as "needs a panel" until you add one.')
    click.echo(outbox.absolute_url("candidate.invitation", token=token))
    click.echo(f"Mailed to {candidate.email}." if notify else "MAIL_URL is not set: send the link yourself.", err=True)


calibration_group = AppGroup("calibration", help="Calibration reports for hiring sessions.")


class InputFileError(click.ClickException):
    """A file the person handed in does not follow its format: exit code 2, like a usage error."""

    exit_code = 2


@calibration_group.command("report")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A long-format CSV: candidate,interviewer,dimension,rating (blank = missing).",
)
@click.option(
    "--scale",
    metavar="MIN..MAX",
    help="The CSV's rating scale, e.g. 1..5; read from the data (and said so) if left out.",
)
@click.option(
    "--alpha-level",
    type=click.Choice(calibration.ALPHA_LEVELS),
    default="ordinal",
    show_default=True,
    help="Krippendorff's alpha metric.",
)
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), help="Write here instead of stdout."
)
def calibration_report_command(
    source: Path | None, scale: str | None, alpha_level: str, fmt: str, out: Path | None
) -> None:
    """Compute the calibration report from the database, or from an exported ratings CSV."""
    if source is not None:
        try:
            view = calibration.view_from_csv(source, scale=scale, alpha_level=alpha_level)
        except DomainError as error:
            raise InputFileError(f"{source}:\n{error.message}") from error
        for note in view.notes:
            click.echo(f"Note: {note}.", err=True)
    elif scale is not None:
        raise click.UsageError("--scale describes a CSV: use it with --from.")
    else:
        view = calibration.build_calibration(calibration.CalibrationFilters())
    if fmt == "json":
        text = calibration_exports.export_json(view)
    elif fmt == "csv":
        text = calibration_exports.report_csv(view.report)
    else:
        text = calibration_exports.export_html(view)
    if out:
        out.write_text(text)
        click.echo(f"Wrote {out}.", err=True)
    else:
        click.echo(text)


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (init_command, create_user_command, seed_demo_command, invite_command, calibration_group):
        app.cli.add_command(command)
