"""Notification mails: scorecards waiting, scorecard and deadline reminders, new practice attempts."""

from __future__ import annotations

from datetime import datetime

import nbformat
import pytest
from sqlalchemy import select

from assessments.content.notebook import release_notebook
from assessments.extensions import db
from assessments.models import Invitation, OutboxMail, User
from assessments.services import blinding, catalog, grade_runs, grading
from tests.mailserver import html_of, link_in, text_of

NAME, EMAIL = "Casey Candidate", "casey@example.org"


@pytest.fixture(autouse=True)
def no_grading(monkeypatch):
    """These tests are about mails: a submission is recorded but never graded."""
    monkeypatch.setattr(grade_runs, "enqueue", lambda run: None)


def _upload(invitation_id: int, now: datetime | None = None) -> int:
    invitation = db.session.get(Invitation, invitation_id)
    raw = nbformat.writes(release_notebook(catalog.spec_for(invitation.case))).encode()
    return grading.accept_submission(invitation, "answers.ipynb", raw, now=now).id


def _mails(template: str) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)))


@pytest.fixture
def panel(make_user):
    return [
        make_user("interviewer", email="iris@example.com", name="Iris Interviewer"),
        make_user("interviewer", email="ivan@example.com", name="Ivan Interviewer"),
    ]


def test_the_first_version_tells_each_panelist_once_and_later_versions_do_not(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        _upload(invitation_id)
        _upload(invitation_id)
        mails = _mails("scorecard_waiting")
        assert sorted(m.to_address for m in mails) == ["iris@example.com", "ivan@example.com"]
        assert {m.about for m in mails} == {f"scorecard-waiting:{invitation_id}:{u.id}" for u in panel}
        for mail in mails:
            assert f"http://localhost/panels/{invitation_id}/scorecard" in mail.text_body
            assert f'href="http://localhost/panels/{invitation_id}/scorecard"' in mail.html_body


def test_a_blind_invitations_mail_names_the_candidate_by_code_only(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.blind_first_read
        code = blinding.candidate_code(invitation)
        _upload(invitation_id)
        mails = _mails("scorecard_waiting")
        assert mails
        for mail in mails:
            for part in (mail.subject, mail.text_body, mail.html_body):
                assert code in part
                assert NAME not in part and "Casey" not in part
                assert EMAIL not in part and "casey@" not in part


def test_an_invitation_that_is_not_blind_names_the_candidate(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel, blind_first_read=False)
    with app.app_context():
        _upload(invitation_id)
        mail = _mails("scorecard_waiting")[0]
        assert NAME in mail.subject and NAME in mail.text_body and NAME in mail.html_body


def test_a_deactivated_panelist_is_not_mailed(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        db.session.get(User, panel[1].id).active = False
        db.session.commit()
        _upload(invitation_id)
        assert [m.to_address for m in _mails("scorecard_waiting")] == ["iris@example.com"]


def test_panelists_receive_the_scorecard_waiting_mail_over_smtp(app, panel, make_invitation, smtp_server):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        code = blinding.candidate_code(db.session.get(Invitation, invitation_id))
        _upload(invitation_id)
    for address in ("iris@example.com", "ivan@example.com"):
        received = smtp_server.wait_for(address)
        assert received["Subject"] == f"Scorecard waiting: {code} (Tiny hiring case: a two-arm conversion test)"
        assert link_in(received, "/panels/") == f"http://localhost/panels/{invitation_id}/scorecard"
        assert code in html_of(received) and NAME not in text_of(received) + html_of(received)
    # The candidate's receipt went too, and nothing else.
    assert len(smtp_server.messages) == 3
