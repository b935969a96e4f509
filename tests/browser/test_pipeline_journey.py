"""In a real browser: the admin's pipeline, re-inviting a person, editing a panel, re-sending, revoking and undoing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from assessments.extensions import db
from assessments.models import Invitation, Scorecard, ScorecardStatus
from assessments.models.types import utcnow
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _invite(page: Page, live_server: str, *, email: str, panel_label: str | None) -> None:
    page.goto(f"{live_server}/admin/invitations/new")
    page.get_by_label("Candidate's name").fill("Dana Candidate")
    page.get_by_label("Candidate's email").fill(email)
    page.get_by_label("Case", exact=True).select_option("tiny-hiring")
    page.get_by_label("Deadline").fill((utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    if panel_label:
        page.get_by_label(panel_label).check()


def test_admin_runs_the_pipeline_and_edits_a_panel(app, live_server, page: Page, make_user, screenshot):
    make_user("admin", email="boss@example.com", name="Bea Boss")
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    make_user("interviewer", email="omar@example.com", name="Omar Interviewer")
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("boss@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # No panel without saying so.
    _invite(page, live_server, email="dana@example.org", panel_label=None)
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_text("tick “panel later”")).to_be_visible()
    page.get_by_label(re.compile("Panel later")).check()
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_text("needs a panel")).to_be_visible()

    # The link is copied with one click.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    link = page.get_by_label("Invitation link").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == link
    screenshot("admin-invitation-needs-panel")

    # Add an interviewer to the panel afterwards.
    page.get_by_label("Add an interviewer").select_option(label="Iris Interviewer (interviewer)")
    page.get_by_role("button", name="Add to panel").click()
    expect(page.get_by_text("Iris Interviewer is on the panel.")).to_be_visible()
    invitation_url = page.url.split("#")[0]

    # The same person again: their history, and a question.
    _invite(page, live_server, email="dana@example.org", panel_label="Omar Interviewer (interviewer)")
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_role("heading", name=re.compile("is already a candidate"))).to_be_visible()
    screenshot("admin-reinvite-history")
    page.get_by_label("Yes, add this case for the same candidate").check()
    page.get_by_role("button", name="Create invitation").click()
    expect(page.get_by_role("heading", name="All of Dana Candidate's invitations")).to_be_visible()

    # Iris submits a scorecard on the first invitation; removing her keeps it and says so.
    invitation_id = int(invitation_url.rsplit("/", 1)[1])
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
    page.goto(invitation_url)
    expect(page.get_by_text("scorecard submitted")).to_be_visible()
    page.get_by_role("button", name="Remove Iris Interviewer").click()
    expect(page.get_by_text("The scorecard they submitted is kept")).to_be_visible()

    # Re-send: a new link, the old one dead.
    page.get_by_role("button", name="Re-send the link").click()
    expect(page.get_by_text("the old link no longer works")).to_be_visible()
    new_link = page.get_by_label("Invitation link").input_value()
    assert new_link != link
    candidate = page.context.browser.new_context().new_page()
    assert candidate.goto(link).status == 404
    assert candidate.goto(new_link).status == 200

    # Revoke needs a tick (the browser asks for it before anything is sent); then it can be undone.
    confirm = page.get_by_label(re.compile("Yes, stop this link"))
    page.get_by_role("button", name="Revoke link").click()
    expect(page).to_have_url(re.compile(rf"{invitation_id}$"))
    assert page.evaluate("document.querySelector('#confirm').validity.valueMissing")
    confirm.check()
    page.get_by_role("button", name="Revoke link").click()
    assert candidate.goto(new_link).status != 200
    page.get_by_role("button", name="Undo revoke").click()
    expect(page.get_by_text("the link works again")).to_be_visible()
    assert candidate.goto(new_link).status == 200

    # The pipeline: both invitations, searchable and filtered by stage.
    with app.app_context():
        db.session.get(Invitation, invitation_id).first_opened_at = utcnow()
        db.session.commit()
    page.goto(f"{live_server}/dashboard")
    expect(page.get_by_role("heading", name="Hiring pipeline")).to_be_visible()
    page.get_by_role("link", name=re.compile("Full pipeline")).click()
    page.get_by_label("Search name or email").fill("dana@")
    page.get_by_label("Stage").select_option("opened")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("^1 invitation$"))
    expect(page.locator("table.pipeline")).to_contain_text("opened the link")
    screenshot("admin-pipeline-filtered")
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_role("status")).to_have_text(re.compile("^2 invitations"))
    screenshot("admin-pipeline")
