"""Blind first read: interviewers see a candidate code, not the name, until their own scorecard is in."""

from __future__ import annotations

import re

import pytest

from assessments.extensions import db
from assessments.models import Invitation, User
from assessments.scorecard import ScorecardResult
from assessments.services import blinding, grading, scorecards

NAME, EMAIL = "Casey Candidate", "casey@example.org"


def _submit_scorecard(app, invitation_id: int, user: User) -> None:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        rubric = scorecards.rubric_for()
        levels = {d.id: 3 for d in rubric.dimensions}
        result = ScorecardResult(
            rubric_slug=rubric.slug,
            rubric_hash=rubric.content_hash,
            ratings=levels,
            evidence={d: "Clear SRM reasoning." for d in levels},
            red_flags=(),
            takeaways="Solid.",
            recommendation="yes",
            is_final=True,
        )
        scorecards.save_scorecard(invitation, db.session.get(User, user.id), result)


@pytest.fixture
def blind_panel(app, make_user, make_invitation):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.blind_first_read  # the default for new invitations
        code = blinding.candidate_code(invitation)
    return invitation_id, iris, code


def _pages(app, client, invitation_id: int) -> dict[str, str]:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        submission_id = invitation.submissions[-1].id if invitation.submissions else None
    pages = {
        "dashboard": client.get("/dashboard").get_data(as_text=True),
        "scorecard": client.get(f"/panels/{invitation_id}/scorecard").get_data(as_text=True),
    }
    if submission_id is not None:
        pages["submission"] = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    return pages


def _upload_release(app, invitation_id: int) -> None:
    import nbformat

    from assessments.content.notebook import release_notebook
    from assessments.services import catalog

    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        raw = nbformat.writes(release_notebook(catalog.spec_for(invitation.case))).encode()
        grading.accept_submission(invitation, "answers.ipynb", raw)


def test_an_interviewer_reads_blind_until_their_own_scorecard_is_in(app, client, auth, blind_panel):
    invitation_id, iris, code = blind_panel
    assert re.fullmatch(r"Candidate [A-Z2-9]{5}", code)
    _upload_release(app, invitation_id)
    auth.login("iris@example.com")
    before = _pages(app, client, invitation_id)
    assert set(before) == {"dashboard", "scorecard", "submission"}
    for where, page in before.items():
        assert NAME not in page and EMAIL not in page and "Casey" not in page, where
        assert code in page, where
    _submit_scorecard(app, invitation_id, iris)
    after = _pages(app, client, invitation_id)
    for where in ("dashboard", "submission"):
        assert NAME in after[where], where
    assert NAME in client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)


def test_admins_always_see_the_name_and_an_unblinded_invitation_shows_it(
    app, client, auth, make_user, make_invitation, blind_panel
):
    invitation_id, iris, code = blind_panel
    _upload_release(app, invitation_id)
    make_user("admin", email="ada@example.com")
    auth.login("ada@example.com")
    with app.app_context():
        submission_id = db.session.get(Invitation, invitation_id).submissions[-1].id
    page = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert NAME in page and code not in page
    auth.logout()

    open_id, _ = make_invitation(panel=[iris], blind_first_read=False)
    auth.login("iris@example.com")
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert NAME in dashboard  # the unblinded invitation's row
    with app.app_context():
        assert blinding.candidate_name(db.session.get(User, iris.id), db.session.get(Invitation, open_id)) == NAME


def test_codes_are_stable_and_differ_between_invitations(app, make_invitation):
    first, _ = make_invitation()
    second, _ = make_invitation()
    with app.app_context():
        a, b = (db.session.get(Invitation, i) for i in (first, second))
        assert blinding.candidate_code(a) == blinding.candidate_code(a) != blinding.candidate_code(b)


def test_the_invitation_form_offers_blind_first_read_on_by_default_and_timed(app, client, auth, make_user):
    from datetime import timedelta

    from assessments.models.types import utcnow

    make_user("admin", email="boss@example.com")
    panelist = make_user("interviewer", email="iris@example.com", name="Iris")
    auth.login("boss@example.com")
    form = client.get("/admin/invitations/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*id="blind_first_read"|<input[^>]*id="blind_first_read"[^>]*checked', form)
    response = client.post(
        "/admin/invitations/new",
        data={
            "name": "Dana Candidate",
            "email": "dana@example.org",
            "case": "tiny-hiring",
            "due_at": (utcnow() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
            "panel": [str(panelist.id)],
            "timed": "y",
            "blind_first_read": "y",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        invitation = db.session.scalars(db.select(Invitation).order_by(Invitation.id.desc())).first()
        assert (invitation.timed, invitation.blind_first_read) == (True, True)
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "timed from the first download" in detail and "interviewers see a candidate code" in detail
    assert "First download" in detail
