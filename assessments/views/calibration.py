"""Calibration reports for hiring managers: pages, the session agenda, and exports."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, make_response, render_template, request

from assessments import charts, static_assets
from assessments.forms.calibration import CalibrationFilterForm
from assessments.permissions import Capability, requires
from assessments.security import allow_chart_styles
from assessments.services import calibration, calibration_exports, catalog, scorecards
from assessments.services.calibration import CalibrationFilters

bp = Blueprint("calibration", __name__, url_prefix="/calibration")
vendor = Blueprint("vendor", __name__)


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
        interviewer_scope=form.scope.data or calibration.THEIR_PANELS,
        date_from=form.date_from.data,
        date_to=form.date_to.data,
    )


@bp.get("/")
@requires(Capability.CALIBRATE)
def report() -> Response:
    """The report: headlines, leniency, reliability, distributions, agreement with auto-grades."""
    form, filters = _filters()
    view = calibration.build_calibration(filters)
    return allow_chart_styles(
        make_response(
            render_template(
                "calibration/report.html",
                form=form,
                view=view,
                figures=view.figures,
                dimension_names=calibration.dimension_names(),
                filters_text=calibration_exports.describe_filters(view),
                query=request.query_string.decode(),
            )
        )
    )


@bp.get("/session")
@requires(Capability.CALIBRATE)
def session_agenda() -> str:
    """The calibration-session agenda: the biggest disagreements with each rater's evidence."""
    form, filters = _filters()
    view = calibration.build_calibration(filters)
    return render_template(
        "calibration/session.html",
        items=calibration.agenda(view),
        dimension_names=calibration.dimension_names(),
        filters_text=calibration_exports.describe_filters(view),
    )


@bp.get("/report.<fmt>")
@requires(Capability.CALIBRATE)
def export(fmt: str) -> Response:
    """The whole report as JSON, a zip of CSV files (one per table) or a self-contained HTML file."""
    _, filters = _filters()
    if fmt not in ("json", "zip", "html"):
        return Response("Choose json, zip or html.", status=404, mimetype="text/plain")
    view = calibration.build_calibration(filters)
    if fmt == "json":
        response = Response(calibration_exports.export_json(view), mimetype="application/json")
    elif fmt == "zip":
        response = Response(calibration_exports.report_zip(view), mimetype="application/zip")
    else:
        response = Response(calibration_exports.export_html(view), mimetype="text/html")
        # Opened from disk it runs its own inline script; served here it must never run.
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Content-Disposition"] = f'attachment; filename="calibration-report.{fmt}"'
    return response


@vendor.get("/vendor/plotly.min.js")
@vendor.get("/vendor/plotly.<digest>.min.js")
def plotly_js(digest: str | None = None) -> Response:
    """plotly.js from the installed plotly package, so no page needs a CDN; gzipped, hashed like static files."""
    return static_assets.send_asset(Path(str(charts.PLOTLY_JS)), digest, mimetype="text/javascript")


vendor.record_once(
    lambda state: static_assets.hashed_endpoint(state.app, "vendor.plotly_js", Path(str(charts.PLOTLY_JS)))
)
