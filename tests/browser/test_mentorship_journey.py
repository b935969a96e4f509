"""In a real browser: a mentee reviews the flawed notebook, reads each defect explained; the mentor sees it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from assessments.extensions import db
from assessments.models import Practice, User
from assessments.services import catalog, mentoring, practice
from assessments.services import review_exercise as review
from tests.conftest import PASSWORD
from tests.test_practice import REVIEW, _planted, use_practice_cases

pytestmark = pytest.mark.browser


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_mentee_reviews_in_the_browser_and_the_mentor_sees_the_attempt(
    app, live_server, page: Page, make_user, tmp_path, screenshot
):
    use_practice_cases(app, tmp_path / "cases")
    admin = make_user("admin", email="ada@example.com")
    make_user("mentor", email="mira@example.com", name="Mira Mentor")
    make_user("mentee", email="manu@example.com", name="Manu Mentee")
    with app.app_context():
        people = {u.email: u for u in db.session.query(User).all()}
        mentoring.pair(people["mira@example.com"], people["manu@example.com"], people[admin.email])

    _sign_in(page, live_server, "manu@example.com")
    page.get_by_role("link", name="Practice", exact=True).click()
    page.get_by_role("link", name="Methodology review: churn model and renewal-offer test").click()
    page.get_by_role("button", name="Start practising").click()
    page.get_by_role("link", name="Review the notebook in your browser").click()
    expect(page.get_by_role("heading", name="Review the analysis")).to_be_visible()

    with app.app_context():
        seed = practice.data_seed(db.session.query(Practice).one())
        planted = _planted(app, seed)
        spec = catalog.case_specs()[REVIEW]
        clean = next(
            c.label
            for c in review.flawed_cells(spec, seed)
            if c.cell_type == "code" and not any(p.startswith(c.label + ":") for p in planted)
        )
    found_label, found_defect = planted[0].split(":")
    page.get_by_label(f"Defect in {found_label}", exact=True).select_option(found_defect)
    page.get_by_label(f"Why (cell {found_label})").fill("This is the step that goes wrong.")
    page.get_by_label(f"Defect in {clean}", exact=True).select_option("peeking")
    screenshot("mentee-review-exercise")
    page.get_by_role("button", name="Submit my review").click()

    expect(page.get_by_role("heading", name="The planted defects, explained")).to_be_visible()
    expect(page.locator(".defect-found")).to_have_count(1)
    expect(page.locator(".defect-missed")).to_have_count(len(planted) - 1)
    expect(page.locator(".defect-false-flag")).to_have_count(1)
    expect(page.locator(".defect-found")).to_contain_text("How to fix it.")
    expect(page.locator(".defect-false-flag")).to_contain_text(f"Cell {clean}")
    screenshot("mentee-review-feedback")

    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, live_server, "mira@example.com")
    page.get_by_role("link", name="Mentees", exact=True).click()
    page.get_by_role("link", name="Manu Mentee").click()
    expect(page.locator(".chart[data-figure=progress] .main-svg").first).to_be_visible(timeout=15000)
    screenshot("mentor-mentee-progress")
    page.get_by_role("link", name="Attempt 1 on Methodology review").click()
    expect(page.get_by_role("heading", name="Attempt 1 · Methodology review")).to_be_visible()
    expect(page.locator(".defect-false-flag")).to_have_count(1)
    expect(page.get_by_role("link", name="Review this attempt")).to_be_visible()
    screenshot("mentor-sees-attempt")
