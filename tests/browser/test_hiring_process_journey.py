"""In a real browser, on a fresh database, a whole hiring process with no command line after the first
admin (#13): staff invited by mail, a candidate with a panel, a notebook that fails then one that runs
(graded for real in the sandbox), the panel's mails and blind scorecards, the decision, and the
pipeline's stage at every step. With SCREENSHOTS_DIR set, the pages it passes are saved there
(1280x800) for the issue's closing note; otherwise nothing is written.
"""

from __future__ import annotations

import os
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from assessments.content.notebook import solution_notebook
from assessments.extensions import db
from assessments.models import Invitation, Scorecard, ScorecardStatus, User
from assessments.models.types import utcnow
from assessments.queue import worker_name
from assessments.services import catalog, grade_runs
from tests.conftest import PASSWORD
from tests.mailserver import SmtpServer, link_in, text_of

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]

ADMIN = ("boss@example.com", "Bea Boss", "the first admin's own passphrase")
PANEL = [
    ("iris@example.com", "Iris Interviewer", "iris picked this passphrase"),
    ("omar@example.com", "Omar Interviewer", "omar picked another passphrase"),
]
CANDIDATE = ("dana@example.org", "Dana Scientist")
CODE = re.compile(r"Candidate [A-Z2-9]{5}")
FAILED_CELL = (
    "cell 2 raised FileNotFoundError: 'data/events.csv' — your data files are next to the notebook, see the README"
)


def screenshot(page: Page, name: str, at: str | None = None) -> None:
    """Save the visible page as SCREENSHOTS_DIR/<name>.png when SCREENSHOTS_DIR is set, scrolled so
    the element `at` (a CSS selector) is at the top.
    """
    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    if at:
        page.locator(at).first.evaluate("element => element.scrollIntoView({block: 'start'})")
    else:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(Path(folder) / f"{name}.png"))


@pytest.fixture
def person(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Factory: a browser of a person's own (their cookies only), 1280x800, UTC."""
    contexts = []

    def open_browser() -> Page:
        context = browser.new_context(timezone_id="UTC", viewport={"width": 1280, "height": 800})
        context.set_default_timeout(15000)
        contexts.append(context)
        return context.new_page()

    yield open_browser
    for context in contexts:
        context.close()


class Worker:
    """The grading worker that `flask worker` runs beside the app: each queued run graded in a thread
    of its own, for real, in the sandbox. `hold()` keeps new runs waiting until `release()`, so a test
    can see a version that is submitted but not yet checked.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.threads: list[threading.Thread] = []
        self.gate = threading.Event()
        self.gate.set()
        queue = app.extensions["assessments.queue"]
        app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=self.enqueue)

    def enqueue(self, run_id: int) -> None:
        def work() -> None:
            self.gate.wait(timeout=120)
            with self.app.app_context():
                grade_runs.run_grade(run_id, worker_name())

        self.threads.append(threading.Thread(target=work, daemon=True))
        self.threads[-1].start()

    def hold(self) -> None:
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def finish(self) -> None:
        """Wait for every run, so the database is not emptied under a grading."""
        self.release()
        for thread in self.threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in self.threads)


def _sign_in(page: Page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _expect_stage(admin: Page, base: str, label: str) -> None:
    """The admin's pipeline shows the candidate at this stage."""
    admin.goto(f"{base}/admin/invitations")
    row = admin.locator("table.pipeline tbody tr", has_text=CANDIDATE[0])
    expect(row).to_have_count(1)
    expect(row.locator(".badge[class*='stage-']")).to_have_text(label)


def test_a_hiring_team_runs_the_whole_process_in_the_browser(
    app: Flask, runner, live_server: str, person, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # The one command: the first admin, as the README says, on a database with nobody in it.
    with app.app_context():
        assert db.session.query(User).count() == 0
    email, name, password = ADMIN
    result = runner.invoke(
        args=["create-user", "--email", email, "--name", name, "--role", "admin", "--password", password]
    )
    assert result.exit_code == 0, result.output
    worker = Worker(app)

    admin = person()
    admin.goto(f"{live_server}/login")
    _sign_in(admin, email, password)
    expect(admin.get_by_role("heading", name=f"Hello, {name}")).to_be_visible()

    # The admin invites two interviewers by email; each sets a password from the mailed link.
    for email, name, password in PANEL:
        admin.get_by_role("link", name="People", exact=True).click()
        admin.get_by_role("link", name="Invite a person").click()
        admin.get_by_label("Name").fill(name)
        admin.get_by_label("Email").fill(email)
        admin.get_by_label("Role").select_option("interviewer")
        screenshot(admin, "01-invite-staff-form")
        admin.get_by_role("button", name="Invite and send the link").click()
        expect(admin.get_by_text("invited, no password yet")).to_be_visible()

        interviewer = person()
        interviewer.goto(link_in(smtp_server.wait_for(email)))
        expect(interviewer.get_by_role("heading", name="Choose your password")).to_be_visible()
        interviewer.get_by_label("New password").fill(password)
        interviewer.get_by_label("Type it again").fill(password)
        screenshot(interviewer, "02-set-password")
        interviewer.get_by_role("button", name="Set password").click()
        expect(interviewer.get_by_text("Your password is set")).to_be_visible()
        interviewer.context.close()
    admin.get_by_role("link", name="People", exact=True).click()
    for _, name, _ in PANEL:
        expect(admin.get_by_role("row", name=re.compile(name)).get_by_text("active")).to_be_visible()
    screenshot(admin, "03-people-list")

    # The admin invites a candidate with both interviewers on the panel (blind first read is the default).
    admin.get_by_role("link", name="Pipeline", exact=True).click()
    admin.get_by_role("link", name="Invite a candidate").click()
    admin.get_by_label("Candidate's name").fill(CANDIDATE[1])
    admin.get_by_label("Candidate's email").fill(CANDIDATE[0])
    admin.get_by_label("Case", exact=True).select_option("tiny-hiring")
    admin.get_by_label("Deadline").fill((utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    for _, name, _ in PANEL:
        admin.get_by_label(f"{name} (interviewer)").check()
    expect(admin.get_by_label(re.compile("Blind first read"))).to_be_checked()
    screenshot(admin, "04-invite-candidate-with-panel")
    admin.get_by_role("button", name="Create invitation").click()
    expect(admin.get_by_role("heading", name=f"Invitation for {CANDIDATE[1]}")).to_be_visible()
    invitation_id = int(admin.url.split("#")[0].rsplit("/", 1)[1])
    _expect_stage(admin, live_server, "invited")

    # The candidate gets the mail, opens the link and downloads the bundle.
    invite_mail = smtp_server.wait_for(CANDIDATE[0])
    assert f"Hello {CANDIDATE[1]}" in text_of(invite_mail) and f"{ADMIN[1]} has invited you" in text_of(invite_mail)
    candidate = person()
    candidate.goto(link_in(invite_mail, "/i/"))
    expect(candidate.get_by_role("link", name="Download your case bundle (.zip)")).to_be_visible()
    _expect_stage(admin, live_server, "opened the link")
    with candidate.expect_download() as download:
        candidate.get_by_role("link", name="Download your case bundle (.zip)").click()
    with zipfile.ZipFile(download.value.path()) as bundle:
        assert any(n.endswith(".ipynb") for n in bundle.namelist())
    _expect_stage(admin, live_server, "downloaded")

    # A notebook whose first code cell reads the data from a folder that is not there (Colab paths):
    # submitted, then checked, and the candidate reads which cell raised what, with no score.
    with app.app_context():
        solved = solution_notebook(catalog.case_specs()["tiny-hiring"])
    fixed = nbformat.writes(solved)
    solved.cells[1].source = 'import pandas as pd\n\nevents = pd.read_csv("data/events.csv")'
    broken = tmp_path / "colab-answers.ipynb"
    broken.write_text(nbformat.writes(solved))
    worker.hold()
    candidate.get_by_label("Your notebook (.ipynb)").set_input_files(str(broken))
    candidate.get_by_role("button", name="Upload notebook").click()
    expect(candidate.get_by_text("Received version 1")).to_be_visible()
    _expect_stage(admin, live_server, "submitted")
    worker.release()
    state = candidate.locator(".grading-state[data-version='1']")
    expect(state).to_contain_text(FAILED_CELL, timeout=90000)
    expect(state).to_contain_text("0 of 4 answers found")
    screenshot(candidate, "05-candidate-failed-upload", at="#upload-heading")
    _expect_stage(admin, live_server, "checked")

    # The panel is told once, on the first version: a scorecard waits, named by the candidate code.
    waiting = {}
    for email, _, _ in PANEL:
        mail = smtp_server.wait_for(email, count=2)  # after the set-password mail
        assert CODE.search(mail["Subject"]) and mail["Subject"].startswith("Scorecard waiting")
        assert CANDIDATE[1] not in text_of(mail) and CANDIDATE[1] not in mail["Subject"]
        waiting[email] = link_in(mail, f"/panels/{invitation_id}/")

    # The fixed notebook: it ran top to bottom, every answer found, still no score.
    good = tmp_path / "answers.ipynb"
    good.write_text(fixed)
    candidate.get_by_label("Your notebook (.ipynb)").set_input_files(str(good))
    candidate.get_by_role("button", name="Upload notebook").click()
    expect(candidate.get_by_text("Received version 2")).to_be_visible()
    expect(candidate.locator(".grading-state[data-version='2']")).to_have_text(
        "ran without errors; 4 of 4 answers found", timeout=90000
    )
    expect(candidate.get_by_text("points")).to_have_count(0)
    screenshot(candidate, "06-candidate-good-upload", at="#upload-heading")
    assert len([m for m in smtp_server.messages if CANDIDATE[0] in str(m["To"])]) == 3  # invitation, 2 receipts
    for email, _, _ in PANEL:  # the second version mails the panel nothing more
        assert len([m for m in smtp_server.messages if email in str(m["To"])]) == 2

    # Each panelist scores blind, the code and never the name: Iris from her mail's link, Omar from
    # his dashboard, where what waits for him comes first.
    for number, (email, _, password) in enumerate(PANEL, start=1):
        interviewer = person()
        if number == 1:
            interviewer.goto(waiting[email])
            _sign_in(interviewer, email, password)
        else:
            interviewer.goto(f"{live_server}/login")
            _sign_in(interviewer, email, password)
            expect(interviewer.get_by_text(CANDIDATE[1])).to_have_count(0)
            interviewer.get_by_role("link", name=re.compile(rf"^Fill scorecard for {CODE.pattern}$")).click()
        assert interviewer.url == waiting[email]
        expect(interviewer.get_by_role("heading", name=re.compile(rf"^Scorecard · {CODE.pattern}$"))).to_be_visible()
        expect(interviewer.get_by_text(CANDIDATE[1])).to_have_count(0)
        interviewer.get_by_role("link", name=re.compile("Read the submitted notebook")).click()
        expect(interviewer.locator(".notebook")).to_contain_text("treatment_rate")
        expect(interviewer.get_by_text(CANDIDATE[1])).to_have_count(0)
        expect(interviewer.get_by_text(CANDIDATE[0])).to_have_count(0)
        interviewer.go_back()
        for group in interviewer.locator("fieldset[id^='dim-']").all():
            group.locator("input[type=radio][value='3']").check()
            group.get_by_role("textbox").fill("Read the SRM check and explained why it matters.")
        interviewer.get_by_label("Yes", exact=True).last.check()
        screenshot(interviewer, "07-scorecard-blind")
        interviewer.get_by_role("button", name="Submit scorecard").click()
        # Her own scorecard is in: now the debrief names the candidate.
        expect(interviewer.get_by_role("heading", name=f"Debrief · {CANDIDATE[1]}")).to_be_visible()
        _expect_stage(admin, live_server, "scorecards 1 of 2" if number == 1 else "debriefed")

    # The admin records the decision on the debrief; the pipeline shows it.
    admin.get_by_role("link", name=CANDIDATE[1]).click()
    admin.get_by_role("link", name="Panel debrief and decision").click()
    admin.get_by_label("Advance").check()
    admin.get_by_label("Note for the record").fill("Clear SRM reasoning; both panelists agree.")
    admin.get_by_role("button", name="Record decision").click()
    expect(admin.locator(".decision")).to_contain_text(f"Decided: advance, by {ADMIN[1]}")
    screenshot(admin, "08-debrief-with-decision", at="#decision")
    _expect_stage(admin, live_server, "decided: advance")
    screenshot(admin, "09-pipeline")

    # Every mail went out through the SMTP server, and the outbox says so.
    admin.get_by_role("link", name="Outbox", exact=True).click()
    expect(admin.get_by_role("link", name=re.compile("Scorecard waiting"))).to_have_count(2)
    expect(admin.locator("tbody tr")).to_have_count(len(smtp_server.messages))
    expect(admin.get_by_role("link", name=f"sent ({len(smtp_server.messages)})")).to_be_visible()
    screenshot(admin, "10-outbox")

    # After the deadline the candidate's link still opens, read-only, with both receipts.
    worker.finish()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        invitation.opens_at = utcnow() - timedelta(days=1)
        invitation.due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    candidate.reload()
    expect(candidate.get_by_role("heading", name="Uploads are closed")).to_be_visible()
    expect(candidate.locator(".grading-state[data-version='1']")).to_contain_text(FAILED_CELL)
    expect(candidate.locator(".grading-state[data-version='2']")).to_have_text(
        "ran without errors; 4 of 4 answers found"
    )
    expect(candidate.get_by_label("Your notebook (.ipynb)")).to_have_count(0)
    screenshot(candidate, "11-candidate-after-deadline", at="#upload-heading")


def _invite(admin: Page, base: str, name: str, email: str, panel: list[str]) -> str:
    """Invite through the form; returns the invitation page's URL."""
    admin.goto(f"{base}/admin/invitations/new")
    admin.get_by_label("Candidate's name").fill(name)
    admin.get_by_label("Candidate's email").fill(email)
    admin.get_by_label("Case", exact=True).select_option("tiny-hiring")
    admin.get_by_label("Deadline").fill((utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    for member in panel:
        admin.get_by_label(f"{member} (interviewer)").check()
    if not panel:
        admin.get_by_label(re.compile("Panel later")).check()
        screenshot(admin, "12-invite-candidate-panel-later", at="fieldset")
    admin.get_by_role("button", name="Create invitation").click()
    expect(admin.get_by_role("heading", name=f"Invitation for {name}")).to_be_visible()
    return admin.url.split("#")[0]


@pytest.mark.skipif(not os.environ.get("SCREENSHOTS_DIR"), reason="only makes the closing note's screenshots")
def test_screenshots_of_the_other_pages_the_issue_changed(app: Flask, live_server: str, person, make_user) -> None:
    """The pages the journey above does not pass: panel later, panel editing, a re-invite's history,
    a withdrawn link and the pipeline's filters (each also tested in test_pipeline_journey.py)."""
    make_user("admin", email=ADMIN[0], name=ADMIN[1])
    iris = make_user("interviewer", email=PANEL[0][0], name=PANEL[0][1])
    make_user("interviewer", email=PANEL[1][0], name=PANEL[1][1])
    admin = person()
    admin.goto(f"{live_server}/login")
    _sign_in(admin, ADMIN[0], PASSWORD)

    dana = _invite(admin, live_server, CANDIDATE[1], CANDIDATE[0], [PANEL[0][1]])
    _invite(admin, live_server, "Kim Modeller", "kim@example.org", [PANEL[0][1], PANEL[1][1]])
    lee = _invite(admin, live_server, "Lee Analyst", "lee@example.org", [])
    expect(admin.locator("#panel").get_by_text("needs a panel")).to_be_visible()
    lee_link = admin.get_by_label("Invitation link").input_value()
    screenshot(admin, "13-invitation-needs-a-panel", at="div.notice")

    # Iris's scorecard on Dana is in; the admin adds Omar and takes Iris off, which keeps her scorecard.
    with app.app_context():
        db.session.add(
            Scorecard(
                invitation_id=int(dana.rsplit("/", 1)[1]),
                interviewer_id=iris.id,
                rubric_slug="r",
                rubric_version="v",
                status=ScorecardStatus.SUBMITTED,
                submitted_at=utcnow(),
            )
        )
        db.session.commit()
    admin.goto(dana)
    admin.get_by_label("Add an interviewer").select_option(label=f"{PANEL[1][1]} (interviewer)")
    admin.get_by_role("button", name="Add to panel").click()
    expect(admin.locator("#panel")).to_contain_text("scorecard submitted")
    screenshot(admin, "14-panel-editing", at="#panel-heading")
    admin.get_by_role("button", name=f"Remove {PANEL[0][1]}").click()
    expect(admin.get_by_text("The scorecard they submitted is kept")).to_be_visible()
    screenshot(admin, "15-panel-member-removed-scorecard-kept")

    # The same email again: their history, and the question.
    admin.goto(f"{live_server}/admin/invitations/new")
    admin.get_by_label("Candidate's name").fill("Dana S.")
    admin.get_by_label("Candidate's email").fill(CANDIDATE[0].upper())
    admin.get_by_label("Case", exact=True).select_option("tiny-hiring")
    admin.get_by_label("Deadline").fill((utcnow() + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M"))
    admin.get_by_label(f"{PANEL[1][1]} (interviewer)").check()
    admin.get_by_role("button", name="Create invitation").click()
    expect(admin.get_by_role("heading", name=re.compile("is already a candidate"))).to_be_visible()
    screenshot(admin, "16-reinvite-history")

    # Lee's link is revoked: the candidate reads that it was withdrawn, and nothing about anyone.
    admin.goto(lee)
    admin.get_by_label(re.compile("Yes, stop this link")).check()
    admin.get_by_role("button", name="Revoke link").click()
    expect(admin.get_by_role("button", name="Undo revoke")).to_be_visible()
    candidate = person()
    assert candidate.goto(lee_link).status == 410
    expect(candidate.get_by_text("withdrawn")).to_be_visible()
    expect(candidate.get_by_text("Lee")).to_have_count(0)
    screenshot(candidate, "17-candidate-link-withdrawn")

    # The pipeline, searched and filtered.
    admin.goto(f"{live_server}/admin/invitations")
    admin.get_by_label("Search name or email").fill("example.org")
    admin.get_by_label("Stage").select_option("invited")
    admin.get_by_role("button", name="Filter").click()
    expect(admin.get_by_role("status")).to_have_text(re.compile("^3 invitations"))
    screenshot(admin, "18-pipeline-filtered")
