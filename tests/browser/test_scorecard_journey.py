"""In a real browser: an interviewer reads the submission, submits a scorecard, sees the panel's."""

from __future__ import annotations

import re

import nbformat
import pytest
from playwright.sync_api import Page, expect

from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import Invitation, User
from assessments.scorecard import ScorecardResult
from assessments.services import catalog, grading, scorecards
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_interviewer_scores_and_sees_the_debrief(app, live_server, page: Page, make_user, make_invitation, screenshot):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    ivan = make_user("interviewer", email="ivan@example.com", name="Ivan Interviewer")
    invitation_id, _ = make_invitation(panel=[iris, ivan])
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        raw = nbformat.writes(solution_notebook(catalog.case_specs()["tiny-hiring"])).encode()
        grading.accept_submission(invitation, "answers.ipynb", raw)
        rubric = scorecards.rubric_for()
        focus = scorecards.kit_for(invitation).focus_dimension_ids
        scorecards.save_scorecard(
            invitation,
            db.session.get(User, ivan.id),
            ScorecardResult(
                rubric.slug,
                rubric.content_hash,
                {d: 2 for d in focus},
                {d: "Missed the guardrail entirely in the write-up." for d in focus},
                (),
                "Weak readout.",
                "no",
                True,
            ),
        )

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("iris@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Blind first read: a candidate code, not the name, until her own scorecard is in.
    page.get_by_role("link", name=re.compile(r"^Version 1 by Candidate [A-Z2-9]{5}$")).click()
    expect(page.get_by_text("Casey")).to_have_count(0)
    expect(page.get_by_role("heading", name="Submitted notebook")).to_be_visible()
    expect(page.locator(".notebook")).to_contain_text("treatment_rate")
    screenshot("interviewer-submission")
    page.go_back()

    page.get_by_role("link", name=re.compile(r"^Fill scorecard for Candidate [A-Z2-9]{5}$")).click()
    # Ivan's scorecard is hidden until Iris submits her own.
    expect(page.get_by_text("Missed the guardrail")).to_have_count(0)
    for dimension in focus:
        group = page.locator(f"#dim-{dimension}")
        group.get_by_label("3 · Yes").check()
        group.get_by_role("textbox").fill("Computed the SRM p-value and explained why it matters.")
    page.get_by_label("Yes", exact=True).last.check()
    screenshot("interviewer-scorecard")
    page.get_by_role("button", name="Submit scorecard").click()

    expect(page.get_by_role("heading", name="Debrief · Casey Candidate")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Ivan Interviewer")).to_be_visible()
    expect(page.get_by_role("columnheader", name="Iris Interviewer")).to_be_visible()
    page.get_by_text("Ivan Interviewer · submitted").click()
    expect(page.get_by_text("Missed the guardrail entirely").first).to_be_visible()
    screenshot("interviewer-debrief")


def test_scorecard_summarises_errors_autosaves_and_warns_before_leaving(
    app, live_server, page: Page, make_user, make_invitation, screenshot
):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        raw = nbformat.writes(solution_notebook(catalog.case_specs()["tiny-hiring"])).encode()
        grading.accept_submission(invitation, "answers.ipynb", raw)
        focus = scorecards.kit_for(invitation).focus_dimension_ids
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("iris@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/panels/{invitation_id}/scorecard")
    # The auto-grade the kit says to read first is on the page, per part.
    expect(page.get_by_role("heading", name=re.compile(r"^Auto-grade: \d+ of \d+ points$"))).to_be_visible()
    # The whole kit is on the page: no box that clips its last question.
    kit = page.locator(".kit")
    assert kit.evaluate("el => el.scrollHeight <= el.clientHeight + 1")
    kit.locator("details > summary").last.scroll_into_view_if_needed()
    expect(kit.locator("details > summary").last).to_be_in_viewport()
    # Anchors are folded away until asked for.
    first = page.locator(f"#dim-{focus[0]}")
    expect(first.locator("details.anchors dd").first).to_be_hidden()
    first.get_by_text("What each level looks like").click()
    expect(first.locator("details.anchors dd").first).to_be_visible()

    page.get_by_role("button", name="Submit scorecard").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text(re.compile(r"This form has \d+ problems"))
    summary.get_by_role("link").first.click()
    expect(first.locator("input[type=radio]").first).to_be_focused()
    screenshot("interviewer-scorecard-errors")

    # Type, wait for the autosave, open the page again: the draft is there.
    first.get_by_label("2 · ", exact=False).check()
    first.get_by_role("textbox").fill("Named the guardrail but not the SRM check.")
    expect(page.locator(".draft-status")).to_have_text(re.compile(r"^Draft saved \d"), timeout=10_000)
    # Open the page afresh (reloading the refused POST would post it again).
    page.goto(f"{live_server}/panels/{invitation_id}/scorecard")
    expect(first.get_by_role("textbox")).to_have_value("Named the guardrail but not the SRM check.")
    expect(first.get_by_label("2 · ", exact=False)).to_be_checked()
    expect(page.locator(".draft-status")).to_contain_text("Draft saved")

    # A change not yet saved: leaving asks first.
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.get_by_label("Key take-aways").fill("Leaving before the autosave.")
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Scorecards waiting for you")).to_be_visible()
    assert dialogs == ["beforeunload"]
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert not scorecards.has_submitted(invitation, db.session.get(User, iris.id))
