"""Calibration exports: the report as JSON, a zip of CSV tables, one CSV (the CLI's) or a self-contained HTML file."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict

import pandas as pd
from flask import render_template
from markupsafe import Markup

from assessments import charts
from assessments.services.calibration import (
    DATABASE_SOURCE,
    INTERVIEWER_SCOPES,
    CalibrationView,
    dimension_names,
)
from assessments.stats.ratings import OVERALL
from assessments.stats.report import FRAME_FIELDS, CalibrationReport, report_to_json


def describe_filters(view: CalibrationView) -> str:
    """The filters and the source in words, for exports: "case ab-readout; from 2024-01-01"."""
    filters = view.filters
    parts = [
        f"case {filters.case}" if filters.case else "every case",
        f"rubric {filters.rubric}" if filters.rubric else "every rubric",
        (
            f"{INTERVIEWER_SCOPES[filters.interviewer_scope]}: {filters.interviewer}"
            if filters.interviewer
            else "every interviewer"
        ),
    ]
    if filters.date_from or filters.date_to:
        start = filters.date_from.isoformat() if filters.date_from else "the start"
        end = filters.date_to.isoformat() if filters.date_to else "today"
        parts.append(f"submitted from {start} to {end}")
    else:
        parts.append("any submission date")
    if view.source != DATABASE_SOURCE:
        return f"Source: {view.source}."
    return f"Source: {view.source}; " + ", ".join(parts) + "."


def report_csv(report: CalibrationReport) -> str:
    """Every frame of the report in one CSV: a `table` column, then the union of the columns."""
    columns: list[str] = ["table"]
    frames = []
    for name in FRAME_FIELDS:
        frame = getattr(report, name).copy()
        frame.insert(0, "table", name)
        columns += [c for c in frame.columns if c not in columns]
        frames.append(frame)
    buffer = io.StringIO()
    for number, frame in enumerate(frames):
        frame.reindex(columns=columns).to_csv(buffer, index=False, header=number == 0)
    return buffer.getvalue()


CSV_DECIMALS = 3


def report_zip(view: CalibrationView) -> bytes:
    """The report as a zip of CSV files, one per table, numbers rounded to `CSV_DECIMALS` places.

    Dimensions get their names beside their ids; list cells (a disagreement's raters) are joined
    with "; "; `headlines.csv` and `README.txt` say what the tables cover.
    """
    names = {OVERALL: "all dimensions", **dimension_names()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", describe_filters(view) + "\n" + _README_TABLES)
        headline_rows = pd.DataFrame([asdict(view.headlines)])
        archive.writestr("headlines.csv", _csv_text(headline_rows))
        for name in FRAME_FIELDS:
            frame = getattr(view.report, name).copy()
            if "dimension" in frame.columns:
                frame.insert(frame.columns.get_loc("dimension") + 1, "dimension_name", frame["dimension"].map(names))
            archive.writestr(f"{name}.csv", _csv_text(frame))
    return buffer.getvalue()


_README_TABLES = (
    "One CSV per table of the calibration report; numbers rounded to 3 decimal places.\n"
    "min_n_warning marks a row below the minimum its statistic needs (see the report page).\n"
)


def _csv_text(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, list | tuple)).any():
            frame[column] = frame[column].map(
                lambda v: "; ".join(str(x) for x in v) if isinstance(v, list | tuple) else v
            )
        elif pd.api.types.is_float_dtype(frame[column]):
            frame[column] = frame[column].round(CSV_DECIMALS)
    return frame.to_csv(index=False)


def export_json(view: CalibrationView) -> str:
    """The whole report and its headlines as one JSON document."""
    return json.dumps(
        {
            **report_to_json(view.report),
            "headlines": asdict(view.headlines),
            "source": view.source,
            "notes": list(view.notes),
        },
        indent=1,
    )


def export_html(view: CalibrationView) -> str:
    """The report as one self-contained HTML file (plotly.js inlined), for the page's download and the CLI."""
    return render_template(
        "calibration/export.html",
        view=view,
        figures=view.figures or charts.report_figures(view.report, dimension_names()),
        filters_text=describe_filters(view),
        dimension_names=dimension_names(),
        plotly_js=Markup(charts.PLOTLY_JS.read_text()),
    )
