"""In a real browser: an interviewer reads this candidate's interviewer guide beside the kit and the notebook."""

from __future__ import annotations

import re

import nbformat
import pytest
from playwright.sync_api import Page, expect

from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import Invitation
from assessments.services import catalog, grading, invitations
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser


def test_interviewer_reads_the_guide_for_this_candidates_seed(
    app, live_server, page: Page, make_user, make_invitation, screenshot
):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    invitation_id, _ = make_invitation(panel=[iris])
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        spec = catalog.case_specs()["tiny-hiring"]
        grading.accept_submission(invitation, "answers.ipynb", nbformat.writes(solution_notebook(spec)).encode())
        key = spec.key_for_seed(invitations.data_seed(invitation))

    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("iris@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_role("link", name=re.compile(r"^Fill scorecard for Candidate [A-Z2-9]{5}$")).click()
    guide = page.locator("#interviewer-guide")
    expect(guide).to_have_count(1)
    page.get_by_role("link", name=re.compile("interviewer guide")).click()
    expect(page).to_have_url(re.compile(r"#interviewer-guide$"))
    expect(guide.get_by_role("heading", name="Interviewer guide: this candidate's data")).to_be_visible()
    # This candidate's own numbers, from their seed's key, with the markdown rendered.
    expect(guide.locator("strong", has_text="Planted lift:")).to_be_visible()
    expect(guide).to_contain_text(f"treatment rate {key['treatment_rate']:.1%}")
    expect(guide).to_contain_text(f"Best channel in this data: {key['best_channel']}")
    screenshot("interviewer-guide-scorecard")

    page.get_by_role("link", name=re.compile(r"^Read the submitted notebook")).click()
    expect(page.get_by_role("heading", name="Submitted notebook")).to_be_visible()
    expect(page.locator("#interviewer-guide")).to_contain_text(f"treatment rate {key['treatment_rate']:.1%}")
