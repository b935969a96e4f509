"""In a real browser: an admin invites a candidate, the candidate opens the link."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from assessments.models.types import utcnow
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_admin_invites_and_candidate_sees_brief_and_deadline(live_server, page: Page, make_user, screenshot, browser):
    make_user("admin", email="boss@example.com", name="Bea Boss")
    make_user("interviewer", email="iris@example.com", name="Iris Interviewer")

    page.goto(f"{live_server}/")
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("Email").fill("boss@example.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Bea Boss")).to_be_visible()

    page.get_by_role("link", name="Invite a candidate").click()
    page.get_by_label("Candidate's name").fill("Dana Candidate")
    page.get_by_label("Candidate's email").fill("dana@example.org")
    page.get_by_label("Case").select_option("tiny-hiring")
    deadline = (utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Deadline").fill(deadline)
    # The browser filled in its own zone (the test browser runs in UTC unless told otherwise).
    assert page.get_by_label("Time zone").input_value()
    page.get_by_label("Iris Interviewer (interviewer)").check()
    screenshot("admin-invite-form")
    page.get_by_role("button", name="Create invitation").click()

    expect(page.get_by_text("shown only once")).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    assert "/i/" in link
    screenshot("admin-invitation-link")

    # The candidate, in their own browser context and time zone, opens the link.
    context = browser.new_context(timezone_id="Asia/Tokyo")
    candidate = context.new_page()
    candidate.goto(link)
    expect(candidate.get_by_role("heading", name=re.compile("Tiny hiring case"))).to_be_visible()
    expect(candidate.get_by_text("events.csv").first).to_be_visible()
    deadline_text = candidate.locator("time.local-time").first.inner_text()
    assert "GMT+9" in deadline_text or "JST" in deadline_text
    expect(candidate.locator(".countdown").first).to_contain_text("days")
    candidate.screenshot(path=str(ARTIFACTS / "candidate-brief.png"), full_page=True)
    context.close()
