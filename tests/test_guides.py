"""The interviewer guide on staff pages, never on a candidate's, and in practice only after a graded attempt."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from flask import Flask
from markupsafe import escape
from sqlalchemy import select

from assessments.content.notebook import release_notebook, solution_notebook
from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.models import Invitation, Practice, User
from assessments.services import catalog, grading, guides, invitations, practice, practice_solutions
from assessments.services import review_exercise as review
from assessments.views.rendering import render_markdown
from tests.test_practice import use_practice_cases

CASE = "tiny-hiring"
REVIEW = "review-leakage"


def _guide(app: Flask, invitation_id: int) -> tuple[str, ...]:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        return catalog.spec_for(invitation.case).guide(invitations.data_seed(invitation))


def _hold_grading(app: Flask) -> None:
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)


def _submit(app: Flask, invitation_id: int) -> int:
    """A submission of the author's notebook (left ungraded: the guide does not wait for grading)."""
    _hold_grading(app)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        raw = nbformat.writes(solution_notebook(catalog.case_specs()[CASE])).encode()
        return grading.accept_submission(invitation, "answers.ipynb", raw).id


def _assert_shows(page: str, lines: tuple[str, ...]) -> None:
    """Each markdown line is on the page as the app renders it (sanitised HTML)."""
    for line in lines:
        html = str(render_markdown(line)).strip().removeprefix("<p>").removesuffix("</p>")
        assert html in page, line


def test_a_panel_interviewer_sees_the_guide_beside_the_written_answers_before_their_scorecard(
    app, client, auth, make_user, make_invitation
):
    iris = make_user("interviewer", email="iris@example.com")
    invitation_id, _ = make_invitation(panel=[iris])
    submission_id = _submit(app, invitation_id)
    lines = _guide(app, invitation_id)
    assert lines and "Planted lift" in lines[0]
    auth.login(iris.email)
    detail = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert "Interviewer guide: this candidate's data" in detail
    _assert_shows(detail, lines)
    scorecard = client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True)
    assert 'href="#interviewer-guide"' in scorecard, "the interview kit links to the guide"
    assert 'id="interviewer-guide"' in scorecard
    _assert_shows(scorecard, lines)


def test_the_guide_is_rendered_as_sanitised_markdown(app, client, auth, make_user, make_invitation, monkeypatch):
    iris = make_user("interviewer", email="iris@example.com")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        spec = catalog.case_specs()[CASE]
        monkeypatch.setattr(
            type(spec),
            "guide",
            lambda self, seed, size=None: ("**SRM** <script>alert(1)</script>", "[x](javascript:1)"),
        )
    auth.login(iris.email)
    page = client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True)
    assert "<strong>SRM</strong>" in page
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert 'href="javascript' not in page


def test_two_invitations_with_different_seeds_get_their_own_guides(app, client, auth, make_user, make_invitation):
    iris = make_user("interviewer", email="iris@example.com")
    first, _ = make_invitation(panel=[iris], seed=1)
    second, _ = make_invitation(panel=[iris], seed=2)
    assert _guide(app, first) != _guide(app, second)
    auth.login(iris.email)
    page = client.get(f"/panels/{second}/scorecard").get_data(as_text=True)
    _assert_shows(page, _guide(app, second))
    assert _guide(app, first)[0].split(";")[0].replace("**", "") not in page


def test_an_interviewer_off_the_panel_gets_no_guide(app, make_user, make_invitation):
    iris, olga = make_user("interviewer"), make_user("interviewer")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert guides.invitation_guide(invitation, db.session.get(User, iris.id))
        with pytest.raises(AccessDenied):
            guides.invitation_guide(invitation, db.session.get(User, olga.id))


def test_the_candidate_never_sees_the_guide(app, client, make_user, make_invitation):
    iris = make_user("interviewer")
    invitation_id, token = make_invitation(panel=[iris])
    lines = _guide(app, invitation_id)
    bundle = client.get(f"/i/{token}/bundle")
    assert bundle.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        files = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    _submit(app, invitation_id)
    page = client.get(f"/i/{token}").get_data(as_text=True)
    for text in (page, files):
        assert "Interviewer guide" not in text and "Planted lift" not in text
        for line in lines:
            assert line.split(";")[0].replace("**", "") not in text


@pytest.fixture
def cases(app: Flask, tmp_path: Path) -> None:
    use_practice_cases(app, tmp_path / "cases")


def _solution_code_lines(app: Flask) -> list[str]:
    """Every line the author's solution cells add to the release notebook (what would solve any seed)."""
    with app.app_context():
        spec = catalog.case_specs()[CASE]
        released = {line.strip() for c in release_notebook(spec).cells for line in c.source.splitlines()}
        return [
            line.strip()
            for cell in solution_notebook(spec).cells
            if cell.cell_type == "code"
            for line in cell.source.splitlines()
            if len(line.strip()) > 6 and line.strip() not in released
        ]


def test_practice_of_a_hiring_case_shows_no_author_code_and_the_guide_only_after_a_graded_attempt(
    app, client, auth, make_user, cases
):
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{CASE}/start")
    with app.app_context():
        own = db.session.scalar(select(Practice))
        spec = catalog.case_specs()[CASE]
        key = spec.key_for_seed(practice.data_seed(own))
    before = [client.get(f"/practice/cases/{CASE}").get_data(as_text=True)]
    client.post(f"/practice/cases/{CASE}/unlock")
    before.append(client.get(f"/practice/cases/{CASE}/solution").get_data(as_text=True))
    for page in before:
        assert "planted" not in page.lower()
    code = _solution_code_lines(app)
    assert code, "the fixture's solution cells hold code to look for"
    solution = before[-1]
    for line in code:
        assert str(escape(line)) not in solution, line
    assert f"{key['treatment_rate']}" in solution, "the mentee's own expected answers"
    assert "The conversion rate of the treatment arm." in solution, "each part's question"
    assert "author's code is not shown" in solution


@pytest.mark.sandbox
def test_after_a_graded_attempt_the_mentee_reads_their_own_seeds_guide(app, client, auth, make_user, cases):
    # The solution (and with it the guide) opens by itself after one graded attempt here.
    app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"] = 1
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{CASE}/start")
    with app.app_context():
        own = db.session.scalar(select(Practice))
        spec = catalog.case_specs()[CASE]
        lines = spec.guide(practice.data_seed(own))
        raw = nbformat.writes(release_notebook(spec)).encode()
    upload = client.post(
        f"/practice/cases/{CASE}/upload",
        data={"notebook": (io.BytesIO(raw), "mine.ipynb")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    with app.app_context():
        own = db.session.scalar(select(Practice))
        assert [a.status for a in own.attempts] == ["done"]
        assert practice_solutions.solution_for(own).guide == lines
    for url in (f"/practice/cases/{CASE}/solution", upload.headers["Location"]):
        page = client.get(url).get_data(as_text=True)
        assert "What your data planted" in page, url
        _assert_shows(page, lines)
        for line in _solution_code_lines(app):
            assert str(escape(line)) not in page, line


def test_a_review_case_shows_its_guide_only_after_the_mentees_graded_review(app, client, auth, make_user, cases):
    # The solution (and with it the guide) opens by itself after one graded attempt here.
    app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"] = 1
    mentee = make_user("mentee")
    auth.login(mentee.email)
    client.post(f"/practice/cases/{REVIEW}/start")
    with app.app_context():
        own = db.session.scalar(select(Practice))
        spec = catalog.case_specs()[REVIEW]
        seed = practice.data_seed(own)
        lines = spec.guide(seed)
        first = next(c for c in review.flawed_cells(spec, seed) if c.cell_type == "code")
    for url in (f"/practice/cases/{REVIEW}", f"/practice/cases/{REVIEW}/review"):
        page = client.get(url).get_data(as_text=True)
        assert "defects planted" not in page and "What your data planted" not in page, url
    assert (
        client.post(f"/practice/cases/{REVIEW}/review", data={f"defect_{first.label}": "eval-on-train"}).status_code
        == 302
    )
    page = client.get(f"/practice/cases/{REVIEW}/solution").get_data(as_text=True)
    assert "What your data planted" in page
    _assert_shows(page, lines)
