"""In a real browser: an interviewer opens the hiring packet from the debrief, prints it, downloads its PDF."""

from __future__ import annotations

import io
import re
import unicodedata

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.conftest import PASSWORD
from tests.test_packets import ALICE_EVIDENCE, BOB_EVIDENCE, _hostile_notebook, _scorecard, _submit_notebook

pytestmark = pytest.mark.browser


def test_interviewer_opens_the_packet_from_the_debrief(
    app, live_server, page: Page, make_user, make_invitation, screenshot
):
    alice = make_user("interviewer", email="alice@example.com", name="Alice Interviewer")
    bob = make_user("interviewer", email="bob@example.com", name="Bob Interviewer")
    invitation_id, _ = make_invitation(panel=[alice, bob])
    _submit_notebook(app, invitation_id, _hostile_notebook(app))
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    _scorecard(app, invitation_id, bob, BOB_EVIDENCE, "no")

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("alice@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/panels/{invitation_id}/debrief")
    page.get_by_role("link", name="Hiring packet").click()

    expect(page.get_by_role("heading", name="Hiring packet · Casey Candidate")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile(r"^Bob Interviewer · "))).to_be_visible()
    expect(page.get_by_text(ALICE_EVIDENCE).first).to_be_visible()
    expect(page.get_by_role("cell", name="0.5 of 2")).to_be_visible()
    expect(page.locator(".packet-notebook .notebook")).to_contain_text("My write-up: SRM first.")
    expect(page.get_by_text("casey@example.org")).to_have_count(0)
    screenshot("hiring-packet")

    # Laid out for paper: the site's header and the page's links stay off the printout.
    page.emulate_media(media="print")
    expect(page.locator("header.site")).to_be_hidden()
    expect(page.get_by_role("link", name="Download as PDF")).to_be_hidden()
    page.emulate_media(media="screen")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as PDF").click()
    download = download_info.value
    assert download.suggested_filename == f"hiring-packet-{invitation_id}.pdf"
    data = download.path().read_bytes()
    assert data.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    assert ALICE_EVIDENCE in text and BOB_EVIDENCE in text and "Casey Candidate" in text
