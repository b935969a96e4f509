"""In a real browser: a hiring manager names the most lenient interviewer and the least
reliable dimension from the calibration page on the demo data alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from assessments.models import Role
from assessments.services import accounts, demo, scorecards
from assessments.services.demo_panels import planted_story

pytestmark = pytest.mark.browser


def test_hiring_manager_reads_the_calibration_story(app, live_server, page: Page, screenshot):
    with app.app_context():
        demo.seed_demo()
        interviewers = [u for u in demo.demo_users() if u.role == Role.INTERVIEWER]
        order = [email for email, _, role in demo.DEMO_USERS if role == Role.INTERVIEWER]
        interviewers.sort(key=lambda u: order.index(u.email))
        story = planted_story(interviewers, list(scorecards.rubric_for().dimension_ids))
        lenient_name = accounts.find_user_by_email(story.most_lenient_email).display_name
        noisy_name = scorecards.rubric_for().dimension(story.noisy_dimension).name

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Calibration").click()

    expect(page.get_by_role("heading", name="Calibration report")).to_be_visible()
    assert page.locator("#most-lenient").inner_text() == lenient_name
    assert page.locator("#least-reliable").inner_text() == noisy_name
    # The charts are drawn by plotly.js served from the app itself.
    expect(page.locator(".chart[data-figure=leniency] .main-svg").first).to_be_visible(timeout=30000)
    expect(page.get_by_role("row", name=lenient_name).first).to_be_visible()
    screenshot("calibration-report")

    # The whole report as a self-contained HTML file, for the calibration meeting.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="HTML", exact=True).click()
    exported = download_info.value
    assert exported.suggested_filename == "calibration-report.html"
    with open(exported.path(), encoding="utf-8") as fh:
        html = fh.read()
    assert lenient_name in html and "Plotly" in html

    page.get_by_role("link", name="Calibration session agenda").click()
    expect(page.get_by_role("heading", name="Calibration session agenda")).to_be_visible()
    expect(page.locator("ol.agenda li").first).to_contain_text("Observed:")
    screenshot("calibration-agenda")
