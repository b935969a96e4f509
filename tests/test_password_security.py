"""A new password signs out the account's other sessions; the forgot-password form is rate limited per
client and per address asked about, without ever saying whether an address has an account."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from assessments.models import Role
from assessments.services import passwords
from tests.conftest import PASSWORD, AuthActions
from tests.mailserver import link_in

NEW_PASSWORD = "a brand new passphrase"


def _signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert AuthActions(client).login(email, password).status_code == 302
    assert client.get("/dashboard").status_code == 200
    return client


def _signed_out(client: FlaskClient) -> bool:
    response = client.get("/dashboard")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_new_password_signs_out_every_session_of_the_account(app, make_user, smtp_server):
    make_user(Role.INTERVIEWER, email="iris@example.com")
    make_user(Role.INTERVIEWER, email="omar@example.com")
    laptop = _signed_in(app, "iris@example.com")
    phone = _signed_in(app, "iris@example.com")
    omar = _signed_in(app, "omar@example.com")

    # From a third browser, Iris resets her password through the mailed link.
    kiosk = app.test_client()
    kiosk.post("/password/forgot", data={"email": "iris@example.com"})
    token = link_in(smtp_server.wait_for("iris@example.com")).rsplit("/", 1)[1]
    assert laptop.get("/dashboard").status_code == 200  # asking for a link changes nothing yet
    done = kiosk.post(f"/password/set/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 302

    assert _signed_out(laptop) and _signed_out(phone)
    assert omar.get("/dashboard").status_code == 200  # another account's session is untouched
    # Signing in again with the new password works, on the same browser; the old session stays dead.
    again = _signed_in(app, "iris@example.com", NEW_PASSWORD)
    assert again.get("/dashboard").status_code == 200
    assert _signed_out(laptop)
    assert AuthActions(laptop).login("iris@example.com", PASSWORD).status_code == 401
    assert AuthActions(laptop).login("iris@example.com", NEW_PASSWORD).status_code == 302
    assert laptop.get("/dashboard").status_code == 200


def test_a_session_cookie_without_the_current_token_is_refused(app, client, make_user):
    iris = make_user(Role.INTERVIEWER)
    with client.session_transaction() as session:
        session["_user_id"] = str(iris.id)  # a session from before tokens, or a forged one
        session["_fresh"] = True
    assert _signed_out(client)
    with client.session_transaction() as session:
        session["_user_id"] = f"{iris.id}:{'0' * 32}"
    assert _signed_out(client)


def _forgot(client: FlaskClient, email: str, address: str = "203.0.113.9") -> tuple[int, str]:
    response = client.post(
        "/password/forgot", data={"email": email}, environ_base={"REMOTE_ADDR": address}, follow_redirects=True
    )
    return response.status_code, response.get_data(as_text=True)


def test_reset_requests_for_one_address_are_limited_from_any_client_and_answered_alike(
    app, client, make_user, smtp_server, monkeypatch
):
    make_user(Role.MENTOR, email="mo@example.com")
    app.config["PASSWORD_RESET_EMAIL_LIMIT"] = 2
    app.config["PASSWORD_RESET_CLIENT_LIMIT"] = 0
    # The account's own two-minute cooldown would hide the limit: let every allowed request send.
    monkeypatch.setattr(passwords, "RESET_COOLDOWN", timedelta(0))
    answers = [_forgot(client, "mo@example.com", f"198.51.100.{n}") for n in range(1, 5)]
    unknown = [_forgot(client, "nobody@example.com", f"198.51.100.{n}") for n in range(1, 5)]
    # Four clients asked for Mo's address; only the first two requests sent a mail.
    assert [m["To"] for m in smtp_server.messages] == ["mo@example.com", "mo@example.com"]
    # Every answer, sent or not, known address or not, is the same page.
    assert all(answer == answers[0] for answer in answers + unknown)
    assert answers[0][0] == 200 and "If an account uses that email" in answers[0][1]
    # Another address has its own count.
    make_user(Role.MENTOR, email="ann@example.com")
    _forgot(client, "Ann@Example.com")
    assert [m["To"] for m in smtp_server.messages][-1] == "ann@example.com"


def test_the_forgot_password_form_is_limited_per_client(app, client, make_user, smtp_server):
    make_user(Role.MENTOR, email="mo@example.com")
    app.config["PASSWORD_RESET_CLIENT_LIMIT"] = 3
    app.config["PASSWORD_RESET_EMAIL_LIMIT"] = 0
    for n in range(3):
        assert _forgot(client, f"someone{n}@example.com")[0] == 200
    # Reading the form does not count; the fourth post does, whatever address it names.
    assert client.get("/password/forgot", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200
    for email in ("mo@example.com", "nobody@example.com"):
        refused = client.post("/password/forgot", data={"email": email}, environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert refused.status_code == 429
        assert 60 <= int(refused.headers["Retry-After"]) <= 3600
        assert "Too many password-reset requests" in refused.get_data(as_text=True)
    assert smtp_server.messages == []
    # Another client is not held back.
    assert _forgot(client, "mo@example.com", "198.51.100.20")[0] == 200
    assert [m["To"] for m in smtp_server.messages] == ["mo@example.com"]
