"""Flask CLI commands: thin click wrappers over service functions."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_migrate import upgrade

from assessments.errors import DomainError
from assessments.models import Role
from assessments.services import accounts, catalog, demo


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


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (init_command, create_user_command, seed_demo_command):
        app.cli.add_command(command)
