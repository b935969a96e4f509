"""In a real browser: a candidate answers the voluntary questions apart from the assessment, and a
hiring manager finds the demo's planted disparity on the adverse impact page and downloads it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from assessments.services import demo
from assessments.services.demo_fairness import planted_disparity

pytestmark = pytest.mark.browser


def test_hiring_manager_finds_the_planted_disparity(app, live_server, page: Page, screenshot):
    with app.app_context():
        links = demo.seed_demo()
    planted = planted_disparity()

    # The candidate's page offers the questions as voluntary; the answers are saved apart.
    page.goto(f"{live_server}{links[0].path}")
    page.get_by_role("link", name="answer two voluntary questions").click()
    expect(page.get_by_role("heading", name="Voluntary self-identification")).to_be_visible()
    page.get_by_role("group", name="Race/ethnicity").get_by_label("Prefer not to say").check()
    page.get_by_role("button", name="Save my answers").click()
    expect(page.get_by_text("your answers are saved")).to_be_visible()
    expect(page.get_by_role("group", name="Race/ethnicity").get_by_label("Prefer not to say")).to_be_checked()

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Fairness").click()
    expect(page.get_by_role("heading", name="Adverse impact", exact=True)).to_be_visible()
    page.get_by_role("link", name="Leave out categories under 2%").click()

    flags = page.get_by_role("table", name="Groups under four-fifths")
    row = flags.get_by_role("row").filter(has_text=planted.stage_label).filter(has_text=planted.breakdown_label)
    row = row.filter(has_text=planted.group)
    expect(row).to_have_count(1)
    ratio = float(row.locator("td").nth(5).inner_text())
    assert ratio < 0.5
    # The stage's own table marks the same group, with its counts and tests beside it.
    stage = page.get_by_role("table", name=f"{planted.stage_label} by {planted.breakdown_label}")
    expect(stage.get_by_role("row", name=planted.group).first).to_contain_text("under 4/5")
    screenshot("adverse-impact")

    with page.expect_download() as download:
        page.get_by_role("link", name="JSON").click()
    data = json.loads(Path(download.value.path()).read_text())
    assert any(f["group"] == planted.group and f["stage"] == planted.stage_label for f in data["flags"])
