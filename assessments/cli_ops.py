"""CLI commands for operators: backup and restore (thin click wrappers over assessments.backup)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from assessments.backup import BackupError, BackupSummary, backup_instance, restore_instance


def _describe(summary: BackupSummary) -> str:
    rows = sum(summary.tables.values())
    return (
        f"{len(summary.tables)} tables, {rows:,} rows, {summary.files:,} submission files "
        f"({summary.file_bytes:,} bytes)"
    )


@click.command("backup")
@click.argument("path", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    """Back up the SQLite database and submission files to PATH (a new directory, or *.tar.gz)."""
    try:
        summary = backup_instance(
            current_app.config["SQLALCHEMY_DATABASE_URI"], Path(current_app.config["SUBMISSIONS_DIR"]), path
        )
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Backed up {_describe(summary)} to {path}.")
    if summary.missing_files:
        click.echo(
            f"warning: {len(summary.missing_files)} submission file(s) the database refers to were "
            "missing or damaged in the store and are not in the backup (listed in the manifest).",
            err=True,
        )
        raise SystemExit(1)


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite a target database or store that holds data.")
@with_appcontext
def restore_command(path: Path, force: bool) -> None:
    """Restore a backup made by `backup` (stop the app and grading workers first)."""
    try:
        summary = restore_instance(
            path,
            current_app.config["SQLALCHEMY_DATABASE_URI"],
            Path(current_app.config["SUBMISSIONS_DIR"]),
            force=force,
        )
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored {_describe(summary)} from {path}; the manifest checked out.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (backup_command, restore_command):
        app.cli.add_command(command)
