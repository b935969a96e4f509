"""Calibration reports for hiring managers: pages, the session agenda, and exports."""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib.resources import files

from flask import Blueprint, Response, make_response, render_template, request, send_file
from markupsafe import Markup

from assessments import charts
from assessments.forms.calibration import CalibrationFilterForm
from assessments.models import Role
from assessments.security import allow_chart_styles, role_required
from assessments.services import calibration, catalog, scorecards
from assessments.services.calibration import CalibrationFilters, CalibrationView
from assessments.stats.report import report_to_json

bp = Blueprint("calibration", __name__, url_prefix="/calibration")
vendor = Blueprint("vendor", __name__)

PLOTLY_JS = files("plotly") / "package_data" / "plotly.min.js"


def _filters() -> tuple[CalibrationFilterForm, CalibrationFilters]:
    form = CalibrationFilterForm(request.args)
    form.case.choices = [("", "All cases")] + [(c.slug, c.title) for c in catalog.current_cases(hiring=True)]
    rubrics, _ = scorecards.rubric_library()
    form.rubric.choices = [("", "All rubrics")] + [(slug, r.title) for slug, r in sorted(rubrics.items())]
    form.interviewer.choices = [("", "All interviewers")] + calibration.interviewer_choices()
    if not form.validate():
        # Bad filters are dropped (and shown as errors), never a 500.
        return form, CalibrationFilters()
    return form, CalibrationFilters(
        case=form.case.data or None,
        rubric=form.rubric.data or None,
        interviewer=form.interviewer.data or None,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


def _figures(view: CalibrationView) -> dict[str, str]:
    report = view.report
    if report.n_ratings == 0:
        return {}
    figures = {
        "leniency": charts.leniency_figure(report.leniency),
        "reliability": charts.reliability_figure(report.alpha),
        "distribution": charts.distribution_figure(report.rating_distribution),
    }
    if len(report.recommendation_shares):
        figures["recommendations"] = charts.recommendation_figure(report.recommendation_shares)
    return {name: figure.to_json() for name, figure in figures.items()}


def _dimension_names() -> dict[str, str]:
    return {d.id: d.name for d in scorecards.rubric_for().dimensions}


def export_html(view: CalibrationView) -> str:
    """The report as one self-contained HTML file (plotly.js inlined)."""
    return render_template(
        "calibration/export.html", view=view, figures=_figures(view),
        dimension_names=_dimension_names(), plotly_js=Markup(PLOTLY_JS.read_text()),
    )


@bp.get("/")
@role_required(Role.ADMIN)
def report() -> Response:
    """The report: headlines, leniency, reliability, distributions, agreement with auto-grades."""
    form, filters = _filters()
    view = calibration.build_calibration(filters)
    return allow_chart_styles(make_response(render_template(
        "calibration/report.html", form=form, view=view, figures=_figures(view),
        dimension_names=_dimension_names(), query=request.query_string.decode(),
    )))


@bp.get("/session")
@role_required(Role.ADMIN)
def session_agenda() -> str:
    """The calibration-session agenda: the biggest disagreements with each rater's evidence."""
    form, filters = _filters()
    view = calibration.build_calibration(filters)
    return render_template(
        "calibration/session.html", items=calibration.agenda(view), dimension_names=_dimension_names()
    )


@bp.get("/report.<fmt>")
@role_required(Role.ADMIN)
def export(fmt: str) -> Response:
    """The whole report as JSON, CSV (one table column per frame) or a self-contained HTML file."""
    _, filters = _filters()
    view = calibration.build_calibration(filters)
    if fmt == "json":
        body = {**report_to_json(view.report), "headlines": asdict(view.headlines)}
        response = Response(json.dumps(body, indent=1), mimetype="application/json")
    elif fmt == "csv":
        response = Response(calibration.report_csv(view.report), mimetype="text/csv")
    elif fmt == "html":
        response = Response(export_html(view), mimetype="text/html")
        # Opened from disk it runs its own inline script; served here it must never run.
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    else:
        return Response("Choose json, csv or html.", status=404, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'attachment; filename="calibration-report.{fmt}"'
    return response


@vendor.get("/vendor/plotly.min.js")
def plotly_js() -> Response:
    """plotly.js from the installed plotly package, so no page needs a CDN."""
    return send_file(str(PLOTLY_JS), mimetype="text/javascript", max_age=86400)
