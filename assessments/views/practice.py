"""Mentees' pages: the practice catalogue, a case's attempts, the review exercise, progress."""

from __future__ import annotations

from flask import Blueprint, Response, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from markupsafe import Markup

from assessments.errors import UploadRefused
from assessments.forms.practice import StartPracticeForm, UnlockSolutionForm, build_review_form
from assessments.forms.submission import UploadForm
from assessments.models import PracticeAttempt, Scorecard
from assessments.permissions import Capability, requires
from assessments.security import allow_chart_styles
from assessments.services import catalog, mentoring, practice, practice_solutions, progress, scorecards
from assessments.services import review_exercise as review
from assessments.views.notebook_html import render_notebook
from assessments.views.rendering import render_brief, render_markdown

bp = Blueprint("practice", __name__, url_prefix="/practice")


@bp.app_template_filter("dimension_name")
def dimension_name(dimension_id: str) -> str:
    """A rubric dimension's name (the id when the default rubric does not have it)."""
    try:
        return scorecards.rubric_for().dimension(dimension_id).name
    except KeyError:
        return dimension_id


@bp.app_template_filter("markdown")
def markdown_filter(text: str) -> Markup:
    """Markdown rendered safely (raw HTML off, then sanitised)."""
    return render_markdown(text)


@bp.get("/")
@requires(Capability.PRACTISE)
def catalogue() -> str:
    """Every practice case with its effort, skills, and the mentee's attempts and best score."""
    return render_template(
        "practice/catalogue.html", entries=practice.practice_catalogue(current_user), start_form=StartPracticeForm()
    )


def _case_page(slug: str, upload_form: UploadForm | None = None, status: int = 200) -> tuple[str, int]:
    case = practice.find_practice_case(slug)
    own = practice.own_practice(current_user, case)
    spec = catalog.spec_for(case)
    return render_template(
        "practice/case.html",
        case=case,
        spec=spec,
        practice=own,
        brief=render_brief(spec.brief_markdown),
        skills=practice.main_dimensions(spec),
        is_review=review.is_review_case(spec),
        attempts=list(reversed(own.attempts)) if own else [],
        next_at=practice.next_attempt_at(own) if own else None,
        until_solution=practice.attempts_until_solution(own) if own else None,
        upload_form=upload_form or UploadForm(),
        start_form=StartPracticeForm(),
        unlock_form=UnlockSolutionForm(),
    ), status


@bp.get("/cases/<slug>")
@requires(Capability.PRACTISE)
def case(slug: str) -> tuple[str, int]:
    """A practice case: the brief, the mentee's bundle and upload, and their attempts."""
    return _case_page(slug)


@bp.post("/cases/<slug>/start")
@requires(Capability.PRACTISE)
def start(slug: str) -> Response:
    """Start practising: the mentee gets their own seed, so their own data."""
    if StartPracticeForm().validate_on_submit():
        practice.start_practice(current_user, slug)
    return redirect(url_for("practice.case", slug=slug))


@bp.get("/cases/<slug>/bundle")
@requires(Capability.PRACTISE)
def bundle(slug: str) -> Response:
    """The mentee's own bundle."""
    name, data = practice.practice_bundle(practice.require_practice(current_user, slug))
    response = Response(data, mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.post("/cases/<slug>/upload")
@requires(Capability.PRACTISE)
def upload(slug: str) -> Response | tuple[str, int]:
    """Grade an uploaded notebook as a new attempt, within the rate limit."""
    own = practice.require_practice(current_user, slug)
    form = UploadForm()
    if not form.validate_on_submit():
        return _case_page(slug, form, 400)
    file = form.notebook.data
    try:
        attempt = practice.submit_notebook_attempt(own, file.filename or "", file.read())
    except (UploadRefused, practice.PracticeLimited) as error:
        form.notebook.errors = [error.message]
        return _case_page(slug, form, error.status_code)
    return redirect(url_for("practice.attempt", attempt_id=attempt.id))


@bp.get("/cases/<slug>/upload")
@requires(Capability.PRACTISE)
def upload_page(slug: str) -> Response:
    """The upload form lives on the case page: reloading a refused upload's address lands there."""
    return redirect(url_for("practice.case", slug=slug))


@bp.route("/cases/<slug>/review", methods=["GET", "POST"])
@requires(Capability.PRACTISE)
def review_exercise(slug: str) -> Response | tuple[str, int]:
    """The flawed notebook cell by cell; the mentee flags defects in the browser."""
    own = practice.require_practice(current_user, slug)
    spec = practice.practice_spec(own)
    cells = review.flawed_cells(spec, practice.data_seed(own))
    catalogue = review.defect_catalogue(spec)
    form = build_review_form([c.label for c in cells], catalogue)
    limited = None
    if form.validate_on_submit():
        flags = [review.ReviewFlag(label, defect, note) for label, defect, note in form.flags()]
        try:
            attempt = practice.submit_review_attempt(own, flags)
        except practice.PracticeLimited as error:
            limited = error.message
        else:
            return redirect(url_for("practice.attempt", attempt_id=attempt.id))
    status = 429 if limited else (400 if form.is_submitted() else 200)
    return render_template(
        "practice/review.html",
        case=own.case,
        spec=spec,
        cells=cells,
        catalogue=catalogue,
        form=form,
        limited=limited,
        next_at=practice.next_attempt_at(own),
    ), status


@bp.get("/cases/<slug>/unlock")
@requires(Capability.PRACTISE)
def confirm_unlock(slug: str) -> Response | str:
    """Ask the mentee to confirm before the solution opens (an open one is simply shown)."""
    own = practice.require_practice(current_user, slug)
    if own.solution_unlocked_at is not None:
        return redirect(url_for("practice.solution", slug=slug))
    return render_template(
        "practice/unlock.html",
        practice=own,
        graded=practice.graded_attempts(own),
        until_solution=practice.attempts_until_solution(own),
        unlock_form=UnlockSolutionForm(),
    )


@bp.post("/cases/<slug>/unlock")
@requires(Capability.PRACTISE)
def unlock(slug: str) -> Response:
    """Open the model solution on the mentee's confirmed request (recorded in the audit trail)."""
    own = practice.require_practice(current_user, slug)
    if UnlockSolutionForm().validate_on_submit():
        practice.unlock_solution(own, current_user)
        flash("The solution is open. Attempts from now on are marked as made after seeing it.", "info")
    return redirect(url_for("practice.solution", slug=slug))


@bp.get("/cases/<slug>/solution")
@requires(Capability.PRACTISE)
def solution(slug: str) -> tuple[str, int]:
    """The model solution for the mentee's seed, once unlocked."""
    own = practice.require_practice(current_user, slug)
    model = practice_solutions.solution_for(own)
    return render_template(
        "practice/solution.html",
        practice=own,
        until_solution=practice.attempts_until_solution(own),
        solution=model,
        solution_html=render_notebook(model.notebook) if model and model.notebook else None,
    ), 200 if model else 403


@bp.get("/attempts/<int:attempt_id>")
@requires(Capability.PRACTISE)
def attempt(attempt_id: int) -> str:
    """One attempt: per-check feedback, then the solution beside the mentee's work once unlocked."""
    return attempt_page(practice.get_own_attempt(current_user, attempt_id), viewer="mentee")


def attempt_page(own: PracticeAttempt, *, viewer: str, own_review: Scorecard | None = None) -> str:
    """An attempt's page, as its mentee or their mentor sees it: feedback, notebook, solution, reviews."""
    notebook = practice.attempt_notebook(own)
    model = practice_solutions.solution_for(own.practice, own)
    return render_template(
        "practice/attempt.html",
        attempt=own,
        report=practice.attempt_report(own),
        notebook_html=render_notebook(notebook) if notebook is not None else None,
        solution=model,
        solution_html=render_notebook(model.notebook) if model and model.notebook else None,
        reviews=mentoring.submitted_reviews(own),
        until_solution=practice.attempts_until_solution(own.practice),
        own_review=own_review,
        viewer=viewer,
    )


@bp.get("/progress")
@requires(Capability.PRACTISE)
def progress_page() -> Response:
    """Per dimension, the trend of auto-graded scores and mentor ratings; the next exercise."""
    return allow_chart_styles(
        make_response(
            render_template(
                "practice/progress.html", progress=progress.mentee_progress(current_user), mentor_view=False
            )
        )
    )
