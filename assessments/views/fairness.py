"""The adverse impact report and the self-identification import: for admins who audit fairness."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from assessments.errors import InvalidInput
from assessments.forms.self_id import SelfIdImportForm
from assessments.permissions import Capability, requires
from assessments.services import adverse_impact, fairness

bp = Blueprint("fairness", __name__, url_prefix="/admin/fairness")


def _exclude_small() -> bool:
    return request.args.get("exclude_small") == "1"


def _page(form: SelfIdImportForm, status: int = 200) -> tuple[str, int]:
    report = fairness.adverse_impact_report(current_user, exclude_small=_exclude_small())
    return render_template("fairness/report.html", report=report, form=form, smd_note=adverse_impact.SMD_NOTE), status


@bp.get("/")
@requires(Capability.AUDIT_FAIRNESS)
def report() -> tuple[str, int]:
    """Selection and scoring rates, impact ratios and tests by self-identified group (each view audited)."""
    return _page(SelfIdImportForm())


@bp.get("/report.<fmt>")
@requires(Capability.AUDIT_FAIRNESS)
def export(fmt: str) -> Response:
    """The report as CSV, JSON or a standalone HTML file (each download audited)."""
    writers = {
        "csv": (adverse_impact.export_csv, "text/csv"),
        "json": (adverse_impact.export_json, "application/json"),
        "html": (adverse_impact.export_html, "text/html"),
    }
    if fmt not in writers:
        return Response("Choose csv, json or html.", status=404, mimetype="text/plain")
    write, mimetype = writers[fmt]
    report = fairness.adverse_impact_report(current_user, exclude_small=_exclude_small(), how=fmt)
    response = Response(write(report), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="adverse-impact.{fmt}"'
    return response


@bp.post("/import")
@requires(Capability.AUDIT_FAIRNESS)
def import_self_identification() -> Response | tuple[str, int]:
    """Import self-identification from an ATS export; every bad line is named and nothing is stored."""
    form = SelfIdImportForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        count = fairness.import_self_identification(form.file.data.read(), current_user)
    except InvalidInput as error:
        form.file.errors = [error.message]
        return _page(form, 400)
    flash(f"Imported self-identification for {count} candidate{'' if count == 1 else 's'}.", "success")
    return redirect(url_for("fairness.report"))
