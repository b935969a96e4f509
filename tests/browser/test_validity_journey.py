"""In a real browser: an admin records an outcome, imports a CSV with a bad row, and reads the demo's validity report."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from assessments.services import demo

pytestmark = pytest.mark.browser


def test_admin_records_outcomes_and_reads_the_validity_report(app, live_server, page: Page, tmp_path, screenshot):
    with app.app_context():
        demo.seed_demo()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/admin/invitations")
    page.get_by_role("link", name="Validity report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Validity report")
    expect(page.get_by_role("status")).to_contain_text("60 with a recorded outcome, 26 hired")
    six = page.get_by_role("table", name="Correlations with Performance at 6 months (rated 1..5)")
    composite = six.get_by_role("row", name="Scorecards: mean of all dimensions")
    # n, the observed r with its interval, and the Case II correction beside it.
    expect(composite.locator("td").nth(0)).to_have_text("26")
    expect(composite.locator("td").nth(1)).to_contain_text("[")
    expect(composite.locator("td").nth(2)).to_contain_text("[")
    expect(six.get_by_role("row", name="Auto-grade (share of points)").locator("td").nth(0)).to_have_text("26")
    incremental = page.get_by_role("table", name="Incremental validity of the auto-grade")
    six_months = incremental.get_by_role("row", name="Performance at 6 months")
    expect(six_months.locator("td").nth(0)).to_have_text("26")
    expect(six_months.locator("td").nth(3)).to_contain_text("[")
    # 18 hires have a 12-month rating: fewer than the 20 cases a regression needs, and the page says so.
    expect(incremental.get_by_role("row", name="Performance at 12 months")).to_contain_text(
        "not enough data: 18 complete cases, at least 20 needed"
    )
    screenshot("admin-validity-report")

    page.get_by_role("link", name="Record outcomes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outcomes")
    page.get_by_label("Candidate").select_option(label="Casey Candidate <casey@example.org>")
    page.get_by_label("Hired").check()
    page.get_by_label("Start date").fill("2026-01-05")
    page.get_by_label("Performance rating at 6 months").fill("7")
    page.get_by_role("button", name="Save outcome").click()
    expect(page.get_by_role("alert")).to_contain_text("The 6-month rating must be between 1 and 5, not 7")
    page.get_by_label("Performance rating at 6 months").fill("4")
    page.get_by_role("button", name="Save outcome").click()
    expect(page.get_by_text("Outcome saved.")).to_be_visible()
    casey = page.get_by_role("row", name="Casey Candidate")
    expect(casey).to_contain_text("2026-01-05")
    expect(casey.locator("td").nth(2)).to_have_text("4")

    bad = tmp_path / "outcomes.csv"
    bad.write_text("candidate,hired,rating_6m\ncasey@example.org,1,4.5\nnobody@example.org,1,3\n")
    page.get_by_label("Outcomes CSV").set_input_files(str(bad))
    page.get_by_role("button", name="Import outcomes").click()
    expect(page.get_by_role("alert")).to_contain_text("Line 3: no candidate has the email 'nobody@example.org'")
    expect(page.get_by_role("row", name="Casey Candidate").locator("td").nth(2)).to_have_text("4")
    screenshot("admin-outcomes-import-error")
