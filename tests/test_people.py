"""People: staff invited by email, set-password links, roles and deactivation."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import select

from assessments.errors import InvalidInput, NotFound
from assessments.extensions import db
from assessments.models import AuditEvent, OutboxMail, PanelMember, PasswordLink, Role, User
from assessments.models.types import utcnow
from assessments.services import accounts, passwords, people
from tests.conftest import PASSWORD
from tests.mailserver import link_in, text_of

NEW_PASSWORD = "a brand new passphrase"


def _admin(email: str = "boss@example.com") -> User:
    user = accounts.find_user_by_email(email)
    return user or accounts.create_user(email, "Bea Boss", Role.ADMIN, PASSWORD)


def _token(link: str) -> str:
    return link.rsplit("/", 1)[1]


def test_an_invited_person_gets_a_link_and_cannot_sign_in_until_they_use_it(ctx, smtp_server):
    user, token = people.invite_person("Iris@Example.com", "Iris Interviewer", Role.INTERVIEWER, _admin())
    assert user.email == "iris@example.com"
    mail = smtp_server.wait_for("iris@example.com")
    assert "Bea Boss has invited you" in text_of(mail) and "an interviewer" in text_of(mail)
    assert _token(link_in(mail)) == token
    assert not passwords.has_password(user)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate("iris@example.com", "!", "127.0.0.1")

    passwords.set_password(token, NEW_PASSWORD)
    assert accounts.authenticate("iris@example.com", NEW_PASSWORD, "127.0.0.1").id == user.id


def test_the_token_is_stored_only_hashed(ctx, smtp_server):
    user, token = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, _admin())
    link = db.session.scalar(select(PasswordLink).where(PasswordLink.user_id == user.id))
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # Nowhere in the database: not the link table, not the sent mail's stored copy, not the audit.
    for mail in db.session.scalars(select(OutboxMail)):
        assert token not in mail.text_body and token not in (mail.html_body or "")
    for event in db.session.scalars(select(AuditEvent)):
        assert token not in str(event.details)


def test_a_link_works_once(ctx, smtp_server):
    _, token = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, _admin())
    passwords.set_password(token, NEW_PASSWORD)
    with pytest.raises(NotFound, match="already used"):
        passwords.set_password(token, "another long password")
    assert accounts.authenticate("iris@example.com", NEW_PASSWORD, "127.0.0.1")


def test_a_link_expires(app, ctx, smtp_server):
    _, token = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, _admin())
    later = utcnow() + timedelta(hours=app.config["PASSWORD_INVITE_HOURS"], seconds=1)
    with pytest.raises(NotFound, match="expired"):
        passwords.set_password(token, NEW_PASSWORD, now=later)
    assert passwords.find_password_link(token).user.email == "iris@example.com"  # still good before then


def test_a_short_password_is_refused_and_the_link_still_works(ctx, smtp_server):
    _, token = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, _admin())
    with pytest.raises(InvalidInput, match="at least"):
        passwords.set_password(token, "short")
    db.session.rollback()
    passwords.set_password(token, NEW_PASSWORD)


def test_a_new_link_ends_the_older_ones(ctx, smtp_server):
    admin = _admin()
    user, first = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, admin)
    second = people.resend_password_link(user, admin)
    with pytest.raises(NotFound):
        passwords.find_password_link(first)
    assert _token(link_in(smtp_server.wait_for("iris@example.com", count=2))) == second
    passwords.set_password(second, NEW_PASSWORD)


def test_forgotten_password_mails_a_reset_link_to_a_known_active_account_only(ctx, smtp_server, make_user):
    iris = make_user(Role.INTERVIEWER, email="iris@example.com")
    passwords.request_password_reset("nobody@example.com")
    passwords.request_password_reset("IRIS@example.com ")
    mail = smtp_server.wait_for("iris@example.com")
    assert "Reset your" in mail["Subject"]
    # Asking again at once sends nothing more (the form is not a way to fill an inbox).
    passwords.request_password_reset("iris@example.com")
    assert [m["To"] for m in smtp_server.messages] == ["iris@example.com"]

    passwords.set_password(_token(link_in(mail)), NEW_PASSWORD)
    assert accounts.authenticate("iris@example.com", NEW_PASSWORD, "127.0.0.1").id == iris.id
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate("iris@example.com", PASSWORD, "127.0.0.1")


def test_a_reset_clears_the_accounts_sign_in_lock(app, ctx, smtp_server, make_user):
    make_user(Role.INTERVIEWER, email="iris@example.com")
    for _ in range(app.config["LOGIN_SLOWDOWN_AFTER"]):
        with pytest.raises(accounts.InvalidCredentials):
            accounts.authenticate("iris@example.com", "wrong password", "10.0.0.1")
    passwords.request_password_reset("iris@example.com")
    passwords.set_password(_token(link_in(smtp_server.wait_for("iris@example.com"))), NEW_PASSWORD)
    assert accounts.authenticate("iris@example.com", NEW_PASSWORD, "10.0.0.2")


def test_role_change(ctx, make_user):
    admin = _admin()
    iris = db.session.get(User, make_user(Role.INTERVIEWER).id)
    people.change_role(iris, Role.MENTOR, admin)
    assert db.session.get(User, iris.id).role == Role.MENTOR
    with pytest.raises(InvalidInput, match="Unknown role"):
        people.change_role(iris, "owner", admin)
    with pytest.raises(InvalidInput, match="your own account"):
        people.change_role(admin, Role.INTERVIEWER, admin)


def test_the_last_active_admin_keeps_their_role_and_account(ctx):
    boss, other = _admin(), _admin("other@example.com")
    people.deactivate_person(other, boss)
    with pytest.raises(InvalidInput, match="last active administrator"):
        people.change_role(boss, Role.MENTOR, other)  # `other` is deactivated; the check is on `boss`
    with pytest.raises(InvalidInput, match="last active administrator"):
        people.deactivate_person(boss, other)


def test_deactivation_stops_sign_in_and_links_and_keeps_their_work(ctx, smtp_server, make_user, make_invitation):
    admin = _admin()
    iris = make_user(Role.INTERVIEWER, email="iris@example.com")
    invitation_id, _ = make_invitation(panel=[iris])
    _, token = people.invite_person("mo@example.com", "Mo", Role.MENTOR, admin)
    mo = accounts.find_user_by_email("mo@example.com")

    people.deactivate_person(db.session.get(User, iris.id), admin)
    people.deactivate_person(mo, admin)
    with pytest.raises(accounts.InvalidCredentials):
        accounts.authenticate("iris@example.com", PASSWORD, "127.0.0.1")
    with pytest.raises(NotFound):
        passwords.find_password_link(token)
    with pytest.raises(InvalidInput, match="deactivated"):
        people.resend_password_link(mo, admin)
    # Nothing of theirs is removed: the account and its panel seats stay.
    assert db.session.scalar(select(PanelMember).where(PanelMember.interviewer_id == iris.id))
    assert iris.id in [p.id for p in people.list_people()]

    people.reactivate_person(db.session.get(User, iris.id), admin)
    assert accounts.authenticate("iris@example.com", PASSWORD, "127.0.0.1")


# Pages


def test_an_open_session_of_a_deactivated_account_stops_working(app, client, auth, make_user):
    iris = make_user(Role.INTERVIEWER)
    auth.login(iris.email)
    assert client.get("/dashboard").status_code == 200
    with app.app_context():
        people.deactivate_person(db.session.get(User, iris.id), _admin())
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_person_sets_a_password_on_the_page_and_signs_in(client, auth, smtp_server, app):
    with app.app_context():
        _, token = people.invite_person("iris@example.com", "Iris", Role.INTERVIEWER, _admin())
    page = client.get(f"/password/set/{token}")
    assert page.status_code == 200 and "iris@example.com" in page.get_data(as_text=True)
    mismatch = client.post(f"/password/set/{token}", data={"password": NEW_PASSWORD, "confirm": "something else"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.get_data(as_text=True)
    short = client.post(f"/password/set/{token}", data={"password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least" in short.get_data(as_text=True)
    done = client.post(f"/password/set/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302 and done.headers["Location"].endswith("/login")
    assert auth.login("iris@example.com", NEW_PASSWORD).status_code == 302
    used = client.get(f"/password/set/{token}")
    assert used.status_code == 404 and "already used" in used.get_data(as_text=True)


def test_forgot_password_answers_the_same_for_known_and_unknown_emails(client, make_user, smtp_server):
    make_user(Role.MENTOR, email="mo@example.com")
    login = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in login and "Forgot password?" in login

    def answer(email: str) -> str:
        response = client.post("/password/forgot", data={"email": email}, follow_redirects=True)
        assert response.status_code == 200
        return response.get_data(as_text=True)

    assert answer("mo@example.com") == answer("nobody@example.com")
    assert [m["To"] for m in smtp_server.messages] == ["mo@example.com"]


def test_a_bad_link_is_a_page_saying_what_to_do(client):
    response = client.get("/password/set/not-a-real-token")
    assert response.status_code == 404
    assert "Send me a new link" in response.get_data(as_text=True)
