"""CLI commands for the fairness reports: thin click wrappers over `services/fairness.py`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from assessments.errors import DomainError
from assessments.services import adverse_impact, fairness

fairness_group = AppGroup("fairness", help="Adverse impact from voluntary self-identification (admins' reports).")

WRITERS = {"json": adverse_impact.export_json, "csv": adverse_impact.export_csv, "html": adverse_impact.export_html}


def _echo_text(report: adverse_impact.AdverseImpactReport) -> None:
    click.echo(f"Adverse impact: {report.source}, {report.people} applications.")
    for stage in report.stages:
        click.echo(f"\n{stage.label} ({stage.people} reached it)")
        for part in stage.breakdowns:
            click.echo(f"  {part.label}: {part.table.unknown} with unknown category")
            for row in part.table.rows.itertuples():
                ratio = "–" if row.impact_ratio != row.impact_ratio else f"{row.impact_ratio:.2f}"
                mark = " UNDER 4/5" if row.below_four_fifths and not row.excluded else ""
                p = "" if row.fisher_p != row.fisher_p else f" Fisher p={row.fisher_p:.3g}"
                click.echo(f"    {row.group:<48} {row.selected:>5}/{row.n:<5} ratio {ratio}{mark}{p}")
    click.echo(f"\n{len(report.flags)} group(s) under four-fifths of the highest group.")


@fairness_group.command("report")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A CSV export (candidate, sex, race_ethnicity, 0/1 stages, scores) instead of this app's data.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "html"]), default="text")
@click.option("--exclude-small", is_flag=True, help="Leave categories under 2% out of the comparisons.")
def report_command(source: Path | None, fmt: str, exclude_small: bool) -> None:
    """Selection and scoring rates, impact ratios and tests by group (recorded in the audit trail)."""
    try:
        text = source.read_bytes() if source else None
        report = fairness.adverse_impact_report(None, exclude_small=exclude_small, csv_text=text, how=f"cli-{fmt}")
    except DomainError as error:
        raise click.ClickException(error.message) from error
    if fmt == "text":
        _echo_text(report)
    else:
        click.echo(WRITERS[fmt](report), nl=False)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(fairness_group)
