"""In a real browser: a mentee reviews the flawed notebook, improves across attempts, reads each defect
explained; the mentor sees it."""

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
    # The solution opens after the first graded attempt here, so its explanations sit beside the feedback.
    app.config["PRACTICE_SOLUTION_AFTER_ATTEMPTS"] = 1
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


def _score(page: Page) -> float:
    return float(page.locator("p.score strong").inner_text())


def test_mentee_improves_across_two_attempts_before_opening_the_solution_and_progress_shows_it(
    app, live_server, page: Page, make_user, tmp_path, screenshot
):
    use_practice_cases(app, tmp_path / "cases")
    app.config.update(PRACTICE_MIN_SECONDS_BETWEEN_ATTEMPTS=0, PRACTICE_SOLUTION_AFTER_ATTEMPTS=3)
    make_user("mentee", email="manu@example.com", name="Manu Mentee")
    _sign_in(page, live_server, "manu@example.com")
    page.get_by_role("link", name="Practice", exact=True).click()
    expect(page.get_by_role("columnheader", name="Main skills it exercises")).to_be_visible()
    page.get_by_role("link", name="Methodology review: churn model and renewal-offer test").click()
    page.get_by_role("button", name="Start practising").click()
    with app.app_context():
        planted = _planted(app, practice.data_seed(db.session.query(Practice).one()))
    scores = []
    for found in (planted[:1], planted[:2]):
        page.get_by_role("link", name="Review the notebook in your browser").click()
        for label, defect in (flag.split(":") for flag in found):
            page.get_by_label(f"Defect in {label}", exact=True).select_option(defect)
        page.get_by_role("button", name="Submit my review").click()
        expect(page.get_by_role("heading", name="Feedback")).to_be_visible()
        # Feedback only: the solution stays closed, so the next attempt is a real try.
        expect(page.get_by_role("heading", name="The planted defects, explained")).to_have_count(0)
        expect(page.get_by_text("Use this feedback to improve your notebook and try again")).to_be_visible()
        scores.append(_score(page))
        screenshot(f"mentee-attempt-{len(scores)}-feedback")
        page.get_by_role("link", name="← Methodology review").click()
    assert scores[1] > scores[0]

    page.get_by_role("link", name="Progress", exact=True).click()
    case_row = page.locator("table.progress").nth(1).get_by_role("row").filter(has_text="Methodology review")
    first, second = (f"{100 * s / 10:.0f}%" for s in scores)
    expect(case_row).to_contain_text(f"{first} → {second}")
    expect(case_row).to_contain_text("n = 2 attempts")
    expect(case_row).to_contain_text(f"+{100 * (scores[1] - scores[0]) / 10:.0f} points")
    expect(page.locator(".chart[data-figure=progress] .main-svg").first).to_be_visible(timeout=15000)
    screenshot("mentee-progress-improved")
    page.set_viewport_size({"width": 375, "height": 800})
    screenshot("mentee-progress-improved-375")
    page.set_viewport_size({"width": 1280, "height": 800})

    page.get_by_role("link", name="Practice", exact=True).click()
    page.get_by_role("link", name="Methodology review: churn model and renewal-offer test").click()
    page.get_by_role("link", name="Open the solution…").click()
    expect(page.get_by_role("heading", name="Open the solution?")).to_be_visible()
    expect(page.get_by_text("opens by itself after 1 more graded attempt")).to_be_visible()
    page.get_by_role("button", name="Yes, open the solution").click()
    expect(page.get_by_text("The defects planted in your notebook, explained.")).to_be_visible()
    screenshot("mentee-solution-opened")
