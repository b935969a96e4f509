"""Outcomes (HR data) and the validity report: admin pages only, never shown to interviewers or mentors."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from assessments.errors import InvalidInput, NotFound
from assessments.forms.outcome import OutcomeForm, OutcomeImportForm
from assessments.permissions import Capability, requires
from assessments.services import outcomes, validity

bp = Blueprint("validity", __name__, url_prefix="/admin")


def _outcome_form(formdata: object | None = None) -> OutcomeForm:
    form = OutcomeForm(formdata=formdata)
    form.candidate_id.choices = [(0, "Choose a candidate")] + [
        (c.id, f"{c.name} <{c.email}>") for c in outcomes.assessed_candidates()
    ]
    return form


def _render(form: OutcomeForm, import_form: OutcomeImportForm, status: int = 200) -> tuple[str, int]:
    low, high = outcomes.rating_scale()
    page = render_template(
        "admin/outcomes.html",
        form=form,
        import_form=import_form,
        rows=outcomes.recorded_outcomes(),
        scale=(low, high),
        columns=outcomes.CSV_COLUMNS,
    )
    return page, status


@bp.get("/outcomes")
@requires(Capability.RECORD_OUTCOMES)
def outcome_list() -> tuple[str, int]:
    """Recorded outcomes, the form to record one, and the CSV import."""
    form = _outcome_form()
    chosen = request.args.get("candidate", type=int)
    existing = outcomes.outcome_for(chosen) if chosen else None
    if chosen:
        form.candidate_id.data = chosen
    if existing is not None:
        form.hired.data = existing.hired
        form.start_date.data = existing.start_date
        form.rating_6m.data = existing.rating_6m
        form.rating_12m.data = existing.rating_12m
    return _render(form, OutcomeImportForm())


@bp.post("/outcomes")
@requires(Capability.RECORD_OUTCOMES)
def outcome_save() -> Response | tuple[str, int]:
    """Record one candidate's outcomes."""
    form = _outcome_form(request.form)
    if form.validate_on_submit():
        values = outcomes.OutcomeValues(
            hired=bool(form.hired.data),
            start_date=form.start_date.data,
            rating_6m=form.rating_6m.data,
            rating_12m=form.rating_12m.data,
        )
        try:
            outcomes.record_outcome(form.candidate_id.data, values, current_user)
        except (InvalidInput, NotFound) as error:
            form.form_errors.append(error.message)
        else:
            flash("Outcome saved.", "success")
            return redirect(url_for("validity.outcome_list"))
    return _render(form, OutcomeImportForm(), 400)


@bp.post("/outcomes/import")
@requires(Capability.RECORD_OUTCOMES)
def outcome_import() -> Response | tuple[str, int]:
    """Import outcomes from a CSV; a bad file is refused whole, its bad rows named by line."""
    import_form = OutcomeImportForm()
    if import_form.validate_on_submit():
        try:
            result = outcomes.import_outcomes_csv(import_form.file.data.read(), current_user)
        except InvalidInput as error:
            import_form.form_errors.append(error.message)
        else:
            flash(f"Imported outcomes: {result.created} new, {result.updated} updated.", "success")
            return redirect(url_for("validity.outcome_list"))
    return _render(_outcome_form(), import_form, 400)


@bp.get("/validity")
@requires(Capability.RECORD_OUTCOMES)
def report() -> str:
    """The validity report: correlations with outcomes, range-restriction corrections, incremental validity."""
    return render_template("admin/validity.html", report=validity.build_validity())
