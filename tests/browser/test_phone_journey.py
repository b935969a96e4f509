"""At a phone's 375 px, on the demo data: every role's main pages fit the screen without sideways
scrolling, tables keep their headers (a debrief's ratings stay under their interviewers) and charts fit."""

from __future__ import annotations

import re

import nbformat
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import Candidate, Invitation
from assessments.services import catalog, demo, grading
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello")).to_be_visible()


def test_every_role_reads_its_pages_on_a_phone(app, live_server, page: Page, phone):
    with app.app_context():
        demo.seed_demo()
        # Chen's panel of three has all submitted their scorecards.
        debriefed = db.session.scalar(
            select(Invitation.id).join(Candidate).where(Candidate.email == "chen@example.org").order_by(Invitation.id)
        )

    _sign_in(page, live_server, "admin@example.com")
    phone(page, "dashboard-admin")
    page.goto(f"{live_server}/admin/invitations")
    phone(page, "pipeline")
    page.goto(f"{live_server}/calibration/", timeout=60000)  # a fresh browser loads plotly.js once
    expect(page.locator(".chart[data-figure=leniency] .main-svg").first).to_be_visible(timeout=30000)
    phone(page, "calibration")
    page.goto(f"{live_server}/panels/{debriefed}/debrief")
    expect(page.get_by_role("heading", name="Debrief", exact=False)).to_be_visible()
    phone(page, "debrief")
    # The interviewers' names stay above their ratings: the header row is shown, not hidden.
    header = page.locator("table.debrief thead")
    page.set_viewport_size({"width": 375, "height": 812})
    expect(header).to_be_visible()
    assert header.locator("th").count() >= 3
    page.set_viewport_size({"width": 1280, "height": 900})

    page.context.clear_cookies()
    _sign_in(page, live_server, "manu@example.com")
    page.goto(f"{live_server}/practice/progress")
    phone(page, "progress")
    page.goto(f"{live_server}/practice/")
    phone(page, "practice-catalogue")

    page.context.clear_cookies()
    _sign_in(page, live_server, "mira@example.com")
    page.goto(f"{live_server}/mentoring/")
    phone(page, "mentees")


def test_an_interviewer_grades_on_a_phone(app, live_server, page: Page, make_user, make_invitation, phone):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        solved = nbformat.writes(solution_notebook(catalog.case_specs()["tiny-hiring"])).encode()
        grading.accept_submission(invitation, "answers.ipynb", solved)

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("iris@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/panels/{invitation_id}/scorecard")
    phone(page, "scorecard")
    page.get_by_role("link", name=re.compile(r"^Read the submitted notebook")).click()
    expect(page.get_by_role("heading", name="Submitted notebook")).to_be_visible()
    phone(page, "submission")
