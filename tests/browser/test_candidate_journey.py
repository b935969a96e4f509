"""In a real browser: the candidate downloads their bundle, uploads a notebook, watches it being
checked, and a panel interviewer sees the graded checks beside the rendered notebook."""

from __future__ import annotations

import re
import threading
import zipfile
from datetime import timedelta

import nbformat
import pytest
from playwright.sync_api import Page, expect

from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import Invitation
from assessments.models.types import utcnow
from assessments.queue import worker_name
from assessments.services import catalog, grade_runs
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def test_candidate_downloads_uploads_and_staff_see_the_grade(
    app, live_server, page: Page, make_user, make_invitation, tmp_path, screenshot
):
    iris = make_user("interviewer", email="iris@example.com", name="Iris Interviewer")
    invitation_id, token = make_invitation(panel=[iris])
    # A worker in a thread, as `flask worker` would run beside the app.
    queue = app.extensions["assessments.queue"]
    workers: list[threading.Thread] = []

    def enqueue(run_id: int) -> None:
        def work() -> None:
            with app.app_context():
                grade_runs.run_grade(run_id, worker_name())

        workers.append(threading.Thread(target=work, daemon=True))
        workers[-1].start()

    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=enqueue)

    page.goto(f"{live_server}/i/{token}")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download your case bundle (.zip)").click()
    bundle = download_info.value
    assert bundle.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(bundle.path()) as archive:
        names = archive.namelist()
    assert any(n.endswith(".ipynb") for n in names) and any(n.endswith(".csv") for n in names)

    # A broken upload gets a message and changes nothing.
    bad = tmp_path / "answers.ipynb"
    bad.write_bytes(b"this is not a notebook")
    page.get_by_label("Your notebook (.ipynb)").set_input_files(str(bad))
    page.get_by_role("button", name="Upload notebook").click()
    expect(page.get_by_role("alert")).to_contain_text("notebook")

    with app.app_context():
        solved = solution_notebook(catalog.case_specs()["tiny-hiring"])
    answers = nbformat.writes(solved)
    # A notebook whose data path works only on the candidate's machine: the page says which cell
    # raised what, and where the data files are, without any score.
    solved.cells[1].source = 'import pandas as pd\n\nevents = pd.read_csv("data/events.csv")'
    broken = tmp_path / "colab-answers.ipynb"
    broken.write_text(nbformat.writes(solved))
    page.get_by_label("Your notebook (.ipynb)").set_input_files(str(broken))
    page.get_by_role("button", name="Upload notebook").click()
    expect(page.get_by_text("Received version 1")).to_be_visible()
    expect(page.locator(".grading-state[data-version='1']")).to_contain_text(
        "cell 2 raised FileNotFoundError: 'data/events.csv' — your data files are next to the notebook, see the README",
        timeout=90000,
    )
    expect(page.locator(".grading-state[data-version='1']")).to_contain_text("0 of 4 answers found")
    screenshot("candidate-cell-error")

    good = tmp_path / "my-answers.ipynb"
    good.write_text(answers)
    page.get_by_label("Your notebook (.ipynb)").set_input_files(str(good))
    page.get_by_role("button", name="Upload notebook").click()
    expect(page.get_by_text("Received version 2")).to_be_visible()
    screenshot("candidate-receipt")
    # Live status: the page updates itself when the worker finishes; no score is shown.
    expect(page.locator(".grading-state[data-version='2']")).to_have_text(
        "ran without errors; 4 of 4 answers found", timeout=90000
    )
    expect(page.get_by_text("points")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "candidate-checked.png"), full_page=True)

    staff = page.context.browser.new_context()
    interviewer = staff.new_page()
    interviewer.goto(f"{live_server}/login")
    interviewer.get_by_label("Email").fill("iris@example.com")
    interviewer.get_by_label("Password").fill(PASSWORD)
    interviewer.get_by_role("button", name="Sign in").click()
    interviewer.get_by_role(
        "link", name=re.compile(r"^Version 2 by Candidate [A-Z2-9]{5}$")
    ).click()  # blind first read
    expect(interviewer.locator(".score")).to_contain_text("5 of 5 points")
    expect(interviewer.locator(".check-correct").first).to_be_visible()
    expect(interviewer.locator(".notebook")).to_contain_text("treatment_rate")
    interviewer.screenshot(path=str(ARTIFACTS / "staff-graded-submission.png"), full_page=True)
    staff.close()

    # Re-upload before the deadline adds a version; after the deadline the link is read-only.
    page.get_by_label("Your notebook (.ipynb)").set_input_files(str(good))
    page.get_by_role("button", name="Upload notebook").click()
    expect(page.get_by_text("Received version 3")).to_be_visible()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        invitation.due_at = utcnow() - timedelta(minutes=1)
        invitation.opens_at = utcnow() - timedelta(days=1)
        db.session.commit()
    page.reload()
    # After the deadline the link still opens, read-only: the receipts stay, uploads are closed.
    expect(page.get_by_role("heading", name="Uploads are closed")).to_be_visible()
    expect(page.locator(".grading-state[data-version='1']")).to_be_visible()
    expect(page.get_by_label("Your notebook (.ipynb)")).to_have_count(0)
    # Let the worker finish the re-upload's grading before the database is emptied for the next test.
    for worker in workers:
        worker.join(timeout=120)
    assert not any(worker.is_alive() for worker in workers)


def test_a_timed_case_says_when_the_clock_starts_and_shows_the_time_left(
    live_server, page: Page, make_invitation, screenshot
):
    _, token = make_invitation(timed=True)
    page.goto(f"{live_server}/i/{token}")
    expect(page.locator(".clock")).to_contain_text("Your clock starts when you first download the bundle")
    screenshot("candidate-timed-before-download")
    with page.expect_download():
        page.get_by_role("link", name="Download your case bundle (.zip)").click()
    page.reload()
    expect(page.locator(".clock")).to_contain_text("20 minutes from your first download")
    expect(page.locator(".clock .countdown")).to_contain_text(re.compile(r"0 days 0 h 1\d min left"))
    screenshot("candidate-timed-clock-running")
