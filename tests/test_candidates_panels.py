"""One candidate per person, panels edited at any time, re-sent links, revoke and its undo."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from assessments.errors import CandidateExists, InvalidInput, InvitationUnavailable
from assessments.extensions import db
from assessments.models import Candidate, Invitation, OutboxMail, Scorecard, ScorecardStatus, User
from assessments.models.types import utcnow
from assessments.services import catalog, invitations, panels


def _form(**overrides):
    data = {
        "name": "Dana Candidate",
        "email": "dana@example.org",
        "case": "tiny-hiring",
        "due_at": (utcnow() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"),
        "timezone": "UTC",
    }
    data.update(overrides)
    return data


def test_inviting_the_same_email_again_shows_the_history_and_asks(app, client, auth, make_user):
    make_user("admin", email="boss@example.com")
    panelist = make_user("interviewer", email="iris@example.com")
    auth.login("boss@example.com")
    assert client.post("/admin/invitations/new", data=_form(panel=[str(panelist.id)])).status_code == 302
    again = client.post("/admin/invitations/new", data=_form(email="DANA@example.org", panel=[str(panelist.id)]))
    page = again.get_data(as_text=True)
    assert again.status_code == 400
    assert "is already a candidate" in page
    assert "Tiny hiring case" in page  # their history
    assert 'name="add_to_existing"' in page
    with app.app_context():
        assert len(db.session.scalars(select(Candidate)).all()) == 1
        assert len(db.session.scalars(select(Invitation)).all()) == 1
    confirmed = client.post(
        "/admin/invitations/new", data=_form(panel=[str(panelist.id)], add_to_existing="y", name="Other Name")
    )
    assert confirmed.status_code == 302
    with app.app_context():
        (candidate,) = db.session.scalars(select(Candidate)).all()
        assert candidate.name == "Dana Candidate"
        assert len(candidate.invitations) == 2
    detail = client.get(confirmed.headers["Location"]).get_data(as_text=True)
    assert "All of Dana Candidate's invitations" in detail


def test_service_refuses_a_silent_duplicate(app, make_user):
    admin = make_user("admin", email="boss@example.com")
    with app.app_context():
        actor = db.session.get(User, admin.id)
        case = catalog.find_current_case("tiny-hiring")
        due = utcnow() + timedelta(days=3)
        invitations.invite_candidate(
            "Dana", "dana@example.org", case, due_at=due, panel=[], actor=actor, panel_later=True
        )
        with pytest.raises(CandidateExists):
            invitations.invite_candidate(
                "Dana", "Dana@example.org", case, due_at=due, panel=[], actor=actor, panel_later=True
            )


def test_no_panel_needs_an_explicit_panel_later(app, client, auth, make_user):
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    refused = client.post("/admin/invitations/new", data=_form())
    assert refused.status_code == 400
    assert "panel later" in refused.get_data(as_text=True)
    accepted = client.post("/admin/invitations/new", data=_form(panel_later="y"))
    assert accepted.status_code == 302
    assert "needs a panel" in client.get(accepted.headers["Location"]).get_data(as_text=True)


def test_creating_an_invitation_mails_the_link(app, client, auth, make_user):
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    response = client.post("/admin/invitations/new", data=_form(panel_later="y"))
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    link = detail.split('id="invite-link"')[0].rsplit('value="', 1)[1].split('"')[0]
    with app.app_context():
        (mail,) = db.session.scalars(select(OutboxMail).where(OutboxMail.template == "candidate_invitation")).all()
        assert mail.to_address == "dana@example.org"
        assert link in mail.text_body or mail.status == "sent"


def test_panel_edited_after_a_scorecard_keeps_the_scorecard(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com")
    iris = make_user("interviewer", email="iris@example.com", name="Iris")
    omar = make_user("interviewer", email="omar@example.com", name="Omar")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        db.session.add(
            Scorecard(
                invitation_id=invitation_id,
                interviewer_id=iris.id,
                rubric_slug="r",
                rubric_version="v",
                status=ScorecardStatus.SUBMITTED,
                submitted_at=utcnow(),
            )
        )
        db.session.commit()
    auth.login("boss@example.com")
    added = client.post(f"/admin/invitations/{invitation_id}/panel", data={"interviewer": str(omar.id)})
    assert "Omar is on the panel" in client.get(added.headers["Location"]).get_data(as_text=True)
    removed = client.post(f"/admin/invitations/{invitation_id}/panel/{iris.id}/remove")
    page = client.get(removed.headers["Location"]).get_data(as_text=True)
    assert "Iris is off the panel" in page
    assert "scorecard they submitted is kept" in page
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert [m.interviewer_id for m in invitation.panel] == [omar.id]
        assert db.session.scalars(select(Scorecard).where(Scorecard.interviewer_id == iris.id)).one()


def test_a_mentee_cannot_be_put_on_a_panel(app, make_user, make_invitation):
    admin = make_user("admin", email="boss@example.com")
    mentee = make_user("mentee", email="mia@example.com")
    invitation_id, _ = make_invitation()
    with app.app_context(), pytest.raises(InvalidInput):
        panels.add_panel_member(
            db.session.get(Invitation, invitation_id), db.session.get(User, mentee.id), db.session.get(User, admin.id)
        )


def test_resent_link_is_new_for_the_same_data_and_the_old_one_dies(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com")
    invitation_id, old_token = make_invitation()
    with app.app_context():
        seed = db.session.get(Invitation, invitation_id).seed
    auth.login("boss@example.com")
    response = client.post(f"/admin/invitations/{invitation_id}/resend")
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "old link no longer works" in detail
    assert 'data-copy="invite-link"' in detail
    assert re.search(r"/static/copy\.[0-9a-f]+\.js", detail)  # the one-click copy script, by its hashed name
    new_token = detail.split('id="invite-link"')[0].rsplit('value="', 1)[1].split('"')[0].rsplit("/i/", 1)[1]
    assert new_token != old_token
    client.post("/logout")
    assert client.get(f"/i/{old_token}").status_code == 404
    assert client.get(f"/i/{new_token}").status_code == 200
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.seed == seed
        mails = db.session.scalars(select(OutboxMail).where(OutboxMail.about == f"invitation:{invitation_id}")).all()
        assert [m.subject.startswith("A new link to Tiny hiring case") for m in mails] == [True]


def test_revoke_asks_for_confirmation_and_can_be_undone_until_the_deadline(
    app, client, auth, make_user, make_invitation
):
    make_user("admin", email="boss@example.com")
    invitation_id, token = make_invitation()
    auth.login("boss@example.com")
    unconfirmed = client.post(f"/admin/invitations/{invitation_id}/revoke")
    assert "Tick the box" in client.get(unconfirmed.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/i/{token}").status_code == 200
    client.post(f"/admin/invitations/{invitation_id}/revoke", data={"confirm": "y"})
    assert client.get(f"/i/{token}").status_code in (404, 410)  # withdrawn, naming nobody
    assert "Undo revoke" in client.get(f"/admin/invitations/{invitation_id}").get_data(as_text=True)
    restored = client.post(f"/admin/invitations/{invitation_id}/restore")
    assert "link works again" in client.get(restored.headers["Location"]).get_data(as_text=True)
    assert client.get(f"/i/{token}").status_code == 200


def test_a_revoke_cannot_be_undone_after_the_deadline(app, make_user, make_invitation):
    admin = make_user("admin", email="boss@example.com")
    invitation_id, token = make_invitation()
    with app.app_context():
        actor = db.session.get(User, admin.id)
        invitation = db.session.get(Invitation, invitation_id)
        invitations.revoke_invitation(invitation, actor)
        invitation.due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        assert not invitations.can_restore(invitation)
        with pytest.raises(InvalidInput):
            invitations.restore_invitation(invitation, actor)
        with pytest.raises(InvitationUnavailable):
            invitations.open_invitation(token)
