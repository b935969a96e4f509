"""In a real browser: an admin opens a case's integrity flags from the pipeline and reads the evidence side by side."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD
from tests.integrity_planted import plant

pytestmark = pytest.mark.browser


def test_admin_reads_the_integrity_flags_of_a_case(app, live_server, page: Page, make_user, screenshot):
    planted = plant(app)
    make_user("admin", email="boss@example.com", name="Bea Boss")
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("boss@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.goto(f"{live_server}/admin/invitations")
    page.get_by_role("link", name="Tiny hiring case: a two-arm conversion test").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Integrity flags")
    expect(page.get_by_role("status")).to_contain_text("7 latest graded submissions")
    expect(page.get_by_role("status")).to_contain_text("8 flags")

    borrowed = page.get_by_role("article", name="Borrowed key: Erin Candidate")
    expect(borrowed).to_contain_text(f"matches the key of {planted.borrowed_from} Candidate")
    row = borrowed.get_by_role("row", name="treatment_rate")
    expect(row).to_contain_text("the other key")

    edited = page.get_by_role("article", name="Near-duplicate code: Alice Candidate and Carol Candidate")
    expect(edited).to_contain_text("100% similar")
    pair = edited.locator(".evidence-pair").first
    left, right = pair.locator("pre").nth(0), pair.locator("pre").nth(1)
    expect(left).to_contain_text("arm_stats")
    expect(right).to_contain_text("by_arm")
    # Side by side on a desktop: the two passages share a row.
    left_box, right_box = left.bounding_box(), right.bounding_box()
    assert left_box and right_box and abs(left_box["y"] - right_box["y"]) < 2 and right_box["x"] > left_box["x"]
    expect(page.get_by_role("article", name="Identical written answer to recommendation")).to_contain_text(
        "Bob Candidate"
    )
    solution = page.get_by_role("article", name="Close to the author's solution: Carol Candidate")
    expect(solution.locator("figcaption").nth(1)).to_contain_text("Author's solution")
    expect(page.get_by_text("Frank Candidate")).to_have_count(0)
    screenshot("admin-integrity-flags")

    # A passage links to the submission it came from.
    edited.get_by_role("link", name="Carol Candidate").first.click()
    expect(page).to_have_url(re.compile(r"/submissions/\d+$"))
    expect(page.get_by_text("by_arm").first).to_be_visible()
