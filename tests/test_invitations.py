"""Invitations: issuing, the candidate link, revoking and extending."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from assessments.errors import InvalidInput, InvitationUnavailable
from assessments.extensions import db
from assessments.models import AuditEvent, Candidate, Invitation, User
from assessments.models.types import utcnow
from assessments.services import catalog, invitations


def test_token_is_stored_only_as_a_hash(app, make_invitation):
    invitation_id, token = make_invitation()
    assert len(token) >= 43  # 32 random bytes, base64
    with app.app_context():
        stored = db.session.get(Invitation, invitation_id)
        assert stored.token_hash == invitations.hash_token(token)
        # The raw token is nowhere in the database.
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)).all():
                assert token not in repr(row)


def test_candidate_link_shows_brief_deadline_and_time_left(client, make_invitation):
    _, token = make_invitation(days=2)
    response = client.get(f"/i/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Tiny hiring case" in page
    assert "events.csv" in page  # from the brief's markdown
    assert 'class="local-time" datetime="' in page  # the deadline, localised by the browser
    assert "1 days 23 h" in page or "2 days 0 h" in page


def test_first_opening_is_recorded(app, client, make_invitation):
    invitation_id, token = make_invitation()
    client.get(f"/i/{token}")
    client.get(f"/i/{token}")
    with app.app_context():
        assert db.session.get(Invitation, invitation_id).first_opened_at is not None
        opened = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invitation.opened")).all()
        assert len(opened) == 1


def test_a_revoked_link_says_it_was_withdrawn_and_names_nobody(app, client, make_invitation):
    invitation_id, token = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        name, email, title = invitation.candidate.name, invitation.candidate.email, invitation.case.title
        invitations.revoke_invitation(invitation, None)
    for path in (f"/i/{token}", f"/i/{token}/bundle", f"/i/{token}/status"):
        revoked = client.get(path)
        assert revoked.status_code == 410
        page = revoked.get_data(as_text=True)
        assert "withdrawn" in page and "contact the hiring team" in page
        for secret in (name, email, title, name.split()[0], "events.csv"):
            assert secret not in page
    # An unknown link reveals nothing either, and the same thing for every unknown token.
    unknown = client.get("/i/" + "x" * 43)
    other = client.get("/i/" + "y" * 43)
    assert unknown.status_code == other.status_code == 404
    assert unknown.data == other.data
    assert b"not valid" in unknown.data and b"withdrawn" not in unknown.data


def test_after_the_deadline_the_link_opens_read_only(app, client, make_invitation):
    invitation_id, token = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        invitation.opens_at = utcnow() - timedelta(days=3)
        invitation.due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    response = client.get(f"/i/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Tiny hiring case" in page and "events.csv" in page  # the brief is still there
    assert "Uploads are closed" in page and "deadline passed" in page
    assert 'type="file"' not in page and "Download your case bundle" not in page


def test_overlong_token_is_unknown_not_an_error(client):
    response = client.get("/i/" + "a" * 5000)
    assert response.status_code == 404


def test_extend_moves_the_deadline_and_keeps_the_old_one_in_the_audit(app, make_invitation, make_user):
    admin = make_user("admin")
    invitation_id, _ = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        old_due = invitation.due_at
        actor = db.session.merge(admin)
        with pytest.raises(InvalidInput, match="later than the current one"):
            invitations.extend_invitation(invitation, old_due - timedelta(hours=1), actor)
        invitations.extend_invitation(invitation, old_due + timedelta(days=1), actor)
        assert db.session.get(Invitation, invitation_id).due_at == old_due + timedelta(days=1)
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "invitation.extended"))
        assert event.details["old_due_at"] == old_due.isoformat()


def test_revoked_invitation_cannot_be_extended(app, make_invitation, make_user):
    admin = make_user("admin")
    invitation_id, _ = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        actor = db.session.merge(admin)
        invitations.revoke_invitation(invitation, actor)
        with pytest.raises(InvalidInput, match="revoked"):
            invitations.extend_invitation(invitation, invitation.due_at + timedelta(days=1), actor)


def test_open_invitation_raises_for_not_yet_open(app, make_invitation):
    _, token = make_invitation(opens_at=utcnow() + timedelta(days=1), days=3)
    with app.app_context(), pytest.raises(InvitationUnavailable, match="opens on"):
        invitations.open_invitation(token)


def test_admin_creates_invitation_and_sees_link_once(app, client, auth, make_user):
    make_user("admin", email="boss@example.com")
    panelist = make_user("interviewer", email="iris@example.com", name="Iris")
    auth.login("boss@example.com")
    response = client.post(
        "/admin/invitations/new",
        data={
            "name": "Dana Candidate",
            "email": "dana@example.org",
            "case": "tiny-hiring",
            "due_at": (utcnow() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "Europe/Berlin",
            "panel": [str(panelist.id)],
        },
    )
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "shown only once" in detail
    assert "Iris" in detail
    link = detail.split('id="invite-link"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert "/i/" in link
    again = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "shown only once" not in again
    # The link works for the candidate.
    token = link.rsplit("/i/", 1)[1]
    client.post("/logout")
    assert client.get(f"/i/{token}").status_code == 200


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Invalid email address"),
        ("name", "x" * 121, "Field cannot be longer than 120 characters"),
        ("timezone", "Mars/Olympus", "Unknown time zone"),
        ("case", "no-such-case", "Not a valid choice"),
        ("due_at", "tomorrow", "Not a valid datetime value"),
    ],
)
def test_invitation_form_rejects_bad_input(client, auth, make_user, field, value, message):
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    data = {
        "name": "Dana",
        "email": "dana@example.org",
        "case": "tiny-hiring",
        "due_at": (utcnow() + timedelta(days=4)).strftime("%Y-%m-%dT%H:%M"),
        "timezone": "UTC",
        field: value,
    }
    response = client.post("/admin/invitations/new", data=data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_deadline_in_the_past_is_refused_with_a_message(client, auth, make_user):
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    response = client.post(
        "/admin/invitations/new",
        data={
            "name": "Dana",
            "email": "dana@example.org",
            "case": "tiny-hiring",
            "due_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
        },
    )
    assert response.status_code == 400
    assert "deadline must be after" in response.get_data(as_text=True)


def test_revoke_and_extend_through_the_pages(app, client, auth, make_user, make_invitation):
    make_user("admin", email="boss@example.com")
    invitation_id, token = make_invitation()
    auth.login("boss@example.com")
    with app.app_context():
        due = db.session.get(Invitation, invitation_id).due_at
    later = (due + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/admin/invitations/{invitation_id}/extend", data={"due_at": later, "timezone": "UTC"})
    assert response.status_code == 302
    assert "deadline is extended" in client.get(response.headers["Location"]).get_data(as_text=True)
    client.post(f"/admin/invitations/{invitation_id}/revoke", data={"confirm": "y"})
    client.post("/logout")
    assert client.get(f"/i/{token}").status_code == 410  # withdrawn


def test_database_stores_utc(app, make_invitation):
    invitation_id, _ = make_invitation()
    with app.app_context():
        raw = db.session.execute(
            text("SELECT due_at FROM invitation WHERE id = :id"), {"id": invitation_id}
        ).scalar_one()
        due = db.session.get(Invitation, invitation_id).due_at
        assert due.tzinfo is not None
        assert str(raw).startswith(due.replace(tzinfo=None).isoformat(" ")[:16])


def test_a_case_version_missing_from_disk_gives_the_candidate_a_message_for_them(app, client, make_invitation, caplog):
    invitation_id, token = make_invitation()
    with app.app_context():
        # As after a deploy that changed the case folder while invitations to the old version are open.
        db.session.get(Invitation, invitation_id).case.content_hash = "f" * 64
        db.session.commit()
    with caplog.at_level("ERROR", logger="assessments.services.catalog"):
        response = client.get(f"/i/{token}")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "This case is temporarily unavailable; the team running it has been notified." in page
    assert "git" not in page and "ffffffffffff" not in page
    # The operator learns which version to restore, from the log.
    assert "version ffffffffffff of case 'tiny-hiring' is no longer on disk" in caplog.text
    assert "restore it from git" in caplog.text


def _candidate_rows() -> int:
    return len(db.session.scalars(select(Candidate)).all())


def test_a_refused_invitation_through_the_page_leaves_no_candidate(app, client, auth, make_user):
    make_user("admin", email="boss@example.com")
    auth.login("boss@example.com")
    response = client.post(
        "/admin/invitations/new",
        data={
            "name": "Dana",
            "email": "dana@example.org",
            "case": "tiny-hiring",
            "due_at": (utcnow() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
            "timezone": "UTC",
        },
    )
    assert response.status_code == 400
    with app.app_context():
        assert _candidate_rows() == 0
        assert not db.session.scalars(select(AuditEvent).where(AuditEvent.action == "candidate.created")).all()


@pytest.mark.parametrize("refusal", ["past-deadline", "practice-only", "inactive-panelist", "no-name"])
def test_invite_candidate_refused_adds_nothing(app, make_user, refusal):
    admin = make_user("admin", email="boss@example.com")
    panelist = make_user("interviewer", email="iris@example.com")
    with app.app_context():
        admin = db.session.get(User, admin.id)
        panelist = db.session.get(User, panelist.id)
        case = catalog.find_current_case("tiny-hiring")
        name, due_at = "Dana", utcnow() + timedelta(days=3)
        if refusal == "past-deadline":
            due_at = utcnow() - timedelta(days=1)
        elif refusal == "practice-only":
            case.hiring = False
        elif refusal == "inactive-panelist":
            panelist.active = False
        else:
            name = "  "
        with pytest.raises(InvalidInput):
            invitations.invite_candidate(name, "dana@example.org", case, due_at=due_at, panel=[panelist], actor=admin)
        db.session.rollback()
        assert _candidate_rows() == 0
        assert db.session.scalars(select(Invitation)).all() == []


def test_invite_candidate_commits_candidate_invitation_and_panel_together(app, make_user):
    admin = make_user("admin", email="boss@example.com")
    panelist = make_user("interviewer", email="iris@example.com")
    with app.app_context():
        invitation, token = invitations.invite_candidate(
            "Dana",
            " Dana@Example.org ",
            catalog.find_current_case("tiny-hiring"),
            due_at=utcnow() + timedelta(days=3),
            panel=[db.session.get(User, panelist.id)],
            actor=db.session.get(User, admin.id),
        )
        invitation_id = invitation.id
    with app.app_context():
        stored = db.session.get(Invitation, invitation_id)
        assert stored.candidate.email == "dana@example.org"
        assert [m.interviewer_id for m in stored.panel] == [panelist.id]
        assert stored.token_hash == invitations.hash_token(token)
