"""The main forms work from the keyboard alone with a visible focus, and pages fit a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def _focus_outline(page: Page) -> str:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.outlineWidth; }"
    )


def test_sign_in_and_invite_with_the_keyboard_only(live_server, page: Page, make_user, screenshot):
    make_user("admin", email="boss@example.com", name="Bea Boss")
    make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    page.goto(f"{live_server}/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert _focus_outline(page).startswith("solid")
    for _ in range(3):  # past the site name, to the first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "email":
            break
    assert page.evaluate("document.activeElement.name") == "email"
    assert _focus_outline(page).startswith("solid")
    page.keyboard.type("boss@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hello, Bea Boss")).to_be_visible()

    page.goto(f"{live_server}/admin/invitations/new")
    page.get_by_label("Candidate's name").focus()
    page.keyboard.type("Kim Keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("kim@example.org")
    page.keyboard.press("Tab")  # case: the first hiring case is preselected
    page.keyboard.press("Tab")
    # Chromium's date-time control takes its parts in turn: month, day, year, hour, minute, AM/PM.
    page.keyboard.type("01022099")
    page.keyboard.press("Tab")
    page.keyboard.type("1000A")
    assert page.get_by_label("Deadline").input_value() == "2099-01-02T10:00"
    # Tab on to the panel checkbox and tick it with the space bar.
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "checkbox":
            break
    page.keyboard.press("Space")
    assert page.get_by_label("Iris Interviewer (interviewer)").is_checked()
    screenshot("keyboard-invite")
    page.get_by_role("button", name="Create invitation").focus()
    assert _focus_outline(page).startswith("solid")
    page.keyboard.press("Enter")
    expect(page.get_by_text("shown only once")).to_be_visible()


@pytest.mark.parametrize("path", ["/login", "/i/{token}", "/dashboard", "/panels/{invitation_id}/scorecard"])
def test_pages_fit_a_phone(live_server, browser, make_user, make_invitation, path):
    iris = make_user("interviewer", email="iris@example.com")
    invitation_id, token = make_invitation(panel=[iris])
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    if "token" not in path and path != "/login":
        page.goto(f"{live_server}/login")
        page.get_by_label("Email").fill("iris@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Hello")).to_be_visible()
    page.goto(live_server + path.format(token=token, invitation_id=invitation_id))
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(
        path=f"test-artifacts/phone{path.replace('/', '-').replace('{', '').replace('}', '')}.png", full_page=True
    )
    context.close()
    assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
