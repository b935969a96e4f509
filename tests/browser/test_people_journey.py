"""In a real browser: an admin invites an interviewer by email; the interviewer reads the mail from a
real SMTP server on loopback, chooses a password with its link and signs in; later resets it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.mailserver import link_in, text_of

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a long and private passphrase"


def _sign_in(page: Page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_invites_an_interviewer_who_sets_a_password_and_signs_in(
    live_server, page: Page, browser, make_user, smtp_server, screenshot
):
    make_user("admin", email="boss@example.com", name="Bea Boss")
    _sign_in(page, live_server, "boss@example.com", "correct horse battery")
    expect(page.get_by_role("heading", name="Hello, Bea Boss")).to_be_visible()

    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()
    page.get_by_role("link", name="Invite a person").click()
    page.get_by_label("Name").fill("Iris Interviewer")
    page.get_by_label("Email").fill("iris@example.com")
    page.get_by_label("Role").select_option("interviewer")
    screenshot("people-invite-form")
    page.get_by_role("button", name="Invite and send the link").click()
    expect(page.get_by_role("heading", name="Iris Interviewer", exact=True)).to_be_visible()
    expect(page.get_by_text("invited, no password yet")).to_be_visible()
    screenshot("people-person-invited")

    mail = smtp_server.wait_for("iris@example.com")
    assert "Bea Boss has invited you" in text_of(mail)
    link = link_in(mail)
    assert link.startswith(live_server)

    # The interviewer, in a browser of their own, follows the link from the mail.
    context = browser.new_context(timezone_id="UTC")
    iris = context.new_page()
    iris.goto(link)
    expect(iris.get_by_role("heading", name="Choose your password")).to_be_visible()
    expect(iris.get_by_text("iris@example.com")).to_be_visible()
    iris.get_by_label("New password").fill(NEW_PASSWORD)
    iris.get_by_label("Type it again").fill(NEW_PASSWORD)
    iris.screenshot(path=str(ARTIFACTS / "set-password.png"), full_page=True)
    iris.get_by_role("button", name="Set password").click()
    expect(iris).to_have_url(re.compile(r"/login$"))
    expect(iris.get_by_text("Your password is set")).to_be_visible()
    iris.get_by_label("Email").fill("iris@example.com")
    iris.get_by_label("Password").fill(NEW_PASSWORD)
    iris.get_by_role("button", name="Sign in").click()
    expect(iris.get_by_role("heading", name="Hello, Iris Interviewer")).to_be_visible()

    # The link worked once.
    iris.goto(link)
    expect(iris.get_by_text("not valid any more")).to_be_visible()

    # Forgot password: the sign-in page's link, a reset mail, a new password.
    iris.get_by_role("link", name="Send me a new link").click()
    iris.get_by_label("Email").fill("iris@example.com")
    iris.get_by_role("button", name="Send me a link").click()
    expect(iris.get_by_text("If an account uses that email")).to_be_visible()
    reset = smtp_server.wait_for("iris@example.com", count=2)
    assert "Reset your" in reset["Subject"]
    iris.goto(link_in(reset))
    iris.get_by_label("New password").fill("an even longer passphrase")
    iris.get_by_label("Type it again").fill("an even longer passphrase")
    iris.get_by_role("button", name="Set password").click()
    iris.get_by_label("Email").fill("iris@example.com")
    iris.get_by_label("Password").fill("an even longer passphrase")
    iris.get_by_role("button", name="Sign in").click()
    expect(iris.get_by_role("heading", name="Hello, Iris Interviewer")).to_be_visible()
    context.close()

    # The admin sees both mails as sent in the outbox, and the account as active.
    page.get_by_role("link", name="Outbox").click()
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("You are invited"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Reset your"))).to_be_visible()
    screenshot("admin-outbox")
    page.get_by_role("link", name="People").click()
    row = page.get_by_role("row", name=re.compile("Iris Interviewer"))
    expect(row.get_by_text("active")).to_be_visible()
    screenshot("people-list")
