"""Uploads, the grading queue's database side, and the staff submission page."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import func, select

from assessments.content.notebook import release_notebook, solution_notebook
from assessments.errors import UploadRefused
from assessments.extensions import db
from assessments.models import GradeRun, GradeStatus, Invitation, OutboxMail, Submission, User
from assessments.models.types import utcnow
from assessments.services import catalog, grade_runs, grading, practice


def _notebook_bytes(app, solution: bool) -> bytes:
    with app.app_context():
        spec = catalog.case_specs()["tiny-hiring"]
        notebook = solution_notebook(spec) if solution else release_notebook(spec)
        return nbformat.writes(notebook).encode()


def _upload(client, token, data: bytes, name: str = "answers.ipynb"):
    return client.post(f"/i/{token}", data={"notebook": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _raw_upload(client, token, data: bytes):
    # Encoded by hand: werkzeug's own encoder spools big bodies to a file it never closes.
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="big.ipynb"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(f"/i/{token}", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def test_bundle_download_holds_notebook_and_own_data(client, make_invitation):
    _, token = make_invitation()
    response = client.get(f"/i/{token}/bundle")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert any(n.endswith(".ipynb") for n in names)
    assert any(n.endswith("events.csv") for n in names)


def test_bundle_is_not_served_for_unknown_link(client):
    assert client.get("/i/" + "y" * 43 + "/bundle").status_code == 404


@pytest.mark.sandbox
def test_upload_is_stored_graded_and_shown_to_staff(app, client, auth, make_user, make_invitation):
    interviewer = make_user("interviewer", email="iris@example.com")
    invitation_id, token = make_invitation(panel=[interviewer])
    response = _upload(client, token, _notebook_bytes(app, solution=True))
    assert response.status_code == 302
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "Received version 1" in page
    assert "ran without errors; 4 of 4 answers found" in page
    # Hiring mode: the candidate sees a receipt, never a score.
    assert "points" not in page
    status = client.get(f"/i/{token}/status").get_json()
    assert status == [{"version": 1, "state": "done", "text": "ran without errors; 4 of 4 answers found"}]

    with app.app_context():
        submission = db.session.scalar(select(Submission).where(Submission.invitation_id == invitation_id))
        run = submission.grade_runs[0]
        assert run.status == GradeStatus.DONE
        assert run.earned == run.possible > 0
        submission_id = submission.id
    auth.login("iris@example.com")
    staff = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert "treatment_rate" in staff
    assert "correct" in staff


@pytest.mark.sandbox
def test_an_upload_writes_only_once_it_has_read_and_rendered_everything(app, client, make_user, make_invitation):
    # Its transaction holds SQLite's one write lock from the first write to the commit, while every
    # other writer waits: nothing is read or rendered in between (three mails, two of them the panel's).
    from sqlalchemy import event

    _, token = make_invitation(panel=[make_user(email="iris@example.com"), make_user(email="omar@example.com")])
    notebook = _notebook_bytes(app, solution=True)
    client.get(f"/i/{token}")
    with app.app_context():
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split()[0].upper()))
        event.listen(db.engine, "commit", lambda *a: statements.append("COMMIT"))
        assert _upload(client, token, notebook).status_code == 302
        first_write = next(i for i, s in enumerate(statements) if s != "SELECT")
        transaction = statements[first_write : statements.index("COMMIT")]
        assert set(transaction) == {"INSERT"}
        assert (
            db.session.scalar(select(func.count()).select_from(OutboxMail).where(OutboxMail.about.like("submission:%")))
            == 1
        )
        assert db.session.scalar(select(func.count()).select_from(OutboxMail)) == 1 + 2


def test_a_downloaded_seed_is_graded_from_the_materials_kept_at_download(app, client, make_invitation, monkeypatch):
    invitation_id, token = make_invitation()
    assert client.get(f"/i/{token}/bundle").status_code == 200
    kept = list(Path(app.config["SEED_CACHE_DIR"]).glob("tiny-hiring-*.zip"))
    assert len(kept) == 1

    def generated_again(*args, **kwargs):
        raise AssertionError("the seed's data was generated again at grading time")

    monkeypatch.setattr("assessments.grading.pipeline.build_materials", generated_again)
    monkeypatch.setattr("assessments.grading.materials.build_materials", generated_again)
    assert _upload(client, token, _notebook_bytes(app, solution=True)).status_code == 302
    with app.app_context():
        run = db.session.scalar(select(GradeRun).join(Submission).where(Submission.invitation_id == invitation_id))
        assert run.status == GradeStatus.DONE and run.earned == run.possible > 0, run.error


def test_bad_upload_is_refused_with_a_message_and_keeps_earlier_versions(app, client, make_invitation):
    invitation_id, token = make_invitation()
    with app.app_context():
        spec = catalog.case_specs()["tiny-hiring"]
        good = nbformat.writes(release_notebook(spec)).encode()
    app.config["HUEY_IMMEDIATE"] = True
    assert _upload(client, token, good).status_code == 302
    for data, message in [
        (b"PK\x03\x04 not a notebook", "zip"),
        (b'{"hello": 1}', "notebook"),
        (b"\x00\x01\x02", "notebook"),
    ]:
        response = _upload(client, token, data)
        assert response.status_code == 400
        assert message in response.get_data(as_text=True).lower()
    assert _upload(client, token, good, name="report.pdf").status_code == 400
    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(Submission).where(Submission.invitation_id == invitation_id)
        )
        assert count == 1


def test_upload_after_deadline_is_refused_or_marked_late(app, client, make_invitation):
    invitation_id, token = make_invitation()
    notebook = _notebook_bytes(app, solution=False)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        spec_invitation = invitation
        with pytest.raises(UploadRefused, match="deadline has passed"):
            grading.accept_submission(
                spec_invitation, "a.ipynb", notebook, now=invitation.due_at + timedelta(minutes=1)
            )
        invitation.allow_late = True
        db.session.commit()
        submission = grading.accept_submission(
            invitation, "a.ipynb", notebook, now=invitation.due_at + timedelta(minutes=1)
        )
        assert submission.is_late


def test_reupload_adds_a_version(app, client, make_invitation):
    invitation_id, token = make_invitation()
    first = _notebook_bytes(app, solution=False)
    second = _notebook_bytes(app, solution=True)
    assert _upload(client, token, first).status_code == 302
    assert _upload(client, token, second).status_code == 302
    with app.app_context():
        versions = db.session.scalars(
            select(Submission.version).where(Submission.invitation_id == invitation_id).order_by(Submission.version)
        ).all()
        assert versions == [1, 2]


def test_claim_is_atomic_and_the_sweep_requeues_lost_runs(app, make_invitation):
    invitation_id, _ = make_invitation()
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        app.config["HUEY_IMMEDIATE"] = True
        submission = Submission(invitation=invitation, version=1, sha256="0" * 64, size=1, filename="a.ipynb")
        db.session.add(submission)
        db.session.flush()
        run = GradeRun(submission=submission, grader_version="test", case_version="x", status=GradeStatus.QUEUED)
        db.session.add(run)
        db.session.commit()
        assert grade_runs.claim_grade_run(run.id, "worker-a")
        assert not grade_runs.claim_grade_run(run.id, "worker-b")  # a duplicate task is a no-op
        # The worker holding it dies: once the lease expires another worker may take it.
        later = utcnow() + grade_runs.lease() + timedelta(seconds=1)
        assert grade_runs.claim_grade_run(run.id, "worker-b", now=later)
        db.session.refresh(run)
        assert run.claimed_by == "worker-b" and run.attempts == 2
        # The sweep gives up after MAX_ATTEMPTS, with a message.
        run.attempts = grade_runs.MAX_ATTEMPTS
        db.session.commit()
        assert grade_runs.sweep_grade_runs(now=later + grade_runs.lease() + timedelta(seconds=1)) == []
        db.session.refresh(run)
        assert run.status == GradeStatus.FAILED
        assert "given up" in run.error


def test_grade_status_lists_hiring_and_practice_runs_and_regrade_adds_hiring_runs(
    app, runner, make_invitation, make_user
):
    app.extensions["assessments.queue"] = type(app.extensions["assessments.queue"])(
        huey=app.extensions["assessments.queue"].huey, grade=lambda run_id: None
    )
    invitation_id, _ = make_invitation()
    mentee = make_user("mentee")
    notebook = _notebook_bytes(app, solution=True)
    with app.app_context():
        submission = grading.accept_submission(db.session.get(Invitation, invitation_id), "a.ipynb", notebook)
        own = practice.start_practice(db.session.get(User, mentee.id), "tiny-hiring")
        attempt = practice.submit_notebook_attempt(own, "b.ipynb", notebook)
        submission_id, attempt_id = submission.id, attempt.id
    status = runner.invoke(args=["grade-status"])
    assert status.exit_code == 0, status.output
    assert re.search(rf"submission\s+{submission_id}\s+queued", status.output)
    assert re.search(rf"practice attempt\s+{attempt_id}\s+queued", status.output)
    # A run of this grader still queued: a regrade adds nothing. Once it is done, a regrade adds
    # a run for the submission and none for the practice attempt (its feedback stays as graded).
    assert "Queued 0 grading run(s)" in runner.invoke(args=["regrade", "--case", "tiny-hiring"]).output
    with app.app_context():
        for run in db.session.scalars(select(GradeRun)):
            run.status = GradeStatus.DONE
        db.session.commit()
    assert "Queued 1 grading run(s)" in runner.invoke(args=["regrade", "--case", "tiny-hiring"]).output
    with app.app_context():
        assert len(db.session.get(Submission, submission_id).grade_runs) == 2
        assert (
            db.session.scalar(
                select(func.count()).select_from(GradeRun).where(GradeRun.practice_attempt_id == attempt_id)
            )
            == 1
        )


def test_staff_page_sanitises_candidate_html(app, client, auth, make_user, make_invitation):
    interviewer = make_user("interviewer", email="iris@example.com")
    _, token = make_invitation(panel=[interviewer])
    with app.app_context():
        spec = catalog.case_specs()["tiny-hiring"]
        notebook = release_notebook(spec)
    notebook.cells.append(nbformat.v4.new_markdown_cell("<script>alert('md')</script> <img src=x onerror=alert(1)>"))
    code = nbformat.v4.new_code_cell("x")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<script>alert('out')</script><b onclick='alert(2)'>bold</b>"}
        )
    ]
    notebook.cells.append(code)
    app.config["HUEY_IMMEDIATE"] = False
    app.extensions["assessments.queue"] = type(app.extensions["assessments.queue"])(
        huey=app.extensions["assessments.queue"].huey, grade=lambda run_id: None
    )
    assert _upload(client, token, nbformat.writes(notebook).encode()).status_code == 302
    with app.app_context():
        submission_id = db.session.scalar(select(Submission.id))
    auth.login("iris@example.com")
    page = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    assert "<script>" not in page
    assert not re.search(r"<[^>]*\bon(error|click)=", page)  # no event handler in any tag
    assert "<b>bold</b>" in page
    assert "&lt;script&gt;" in page  # the markdown's script tag is shown as text


def test_interviewer_off_the_panel_cannot_see_a_submission(app, client, auth, make_user, make_invitation):
    make_user("interviewer", email="other@example.com")
    _, token = make_invitation()
    app.extensions["assessments.queue"] = type(app.extensions["assessments.queue"])(
        huey=app.extensions["assessments.queue"].huey, grade=lambda run_id: None
    )
    assert _upload(client, token, _notebook_bytes(app, solution=False)).status_code == 302
    with app.app_context():
        submission_id = db.session.scalar(select(Submission.id))
    auth.login("other@example.com")
    assert client.get(f"/submissions/{submission_id}").status_code == 403


def test_a_notebook_with_a_lone_surrogate_is_refused_at_upload(app, client, make_invitation):
    invitation_id, token = make_invitation()
    with app.app_context():
        notebook = release_notebook(catalog.case_specs()["tiny-hiring"])
    notebook.cells.append(nbformat.v4.new_code_cell("label = 'PLACEHOLDER'"))
    data = nbformat.writes(notebook).encode().replace(b"PLACEHOLDER", b"\\ud800")
    response = _upload(client, token, data)
    assert response.status_code == 400
    assert "contains a broken character" in response.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Submission).where(Submission.invitation_id == invitation_id)
            )
            == 0
        )


@pytest.mark.sandbox
def test_the_candidate_sees_why_a_notebook_failed_then_that_the_fix_ran(app, client, make_invitation):
    _, token = make_invitation()
    notebook = nbformat.reads(_notebook_bytes(app, solution=True).decode(), as_version=4)
    notebook.cells[1].source = 'import pandas as pd\n\nevents = pd.read_csv("data/events.csv")'
    assert _upload(client, token, nbformat.writes(notebook).encode()).status_code == 302
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert (
        "cell 2 raised FileNotFoundError: &#39;data/events.csv&#39; — your data files are next to the "
        "notebook, see the README; 5 later cells failed too; 0 of 4 answers found"
    ) in page
    assert _upload(client, token, _notebook_bytes(app, solution=True)).status_code == 302
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "ran without errors; 4 of 4 answers found" in page
    assert "points" not in page and "expected" not in page


def test_after_the_deadline_the_candidate_still_sees_their_receipts_and_cannot_upload(app, client, make_invitation):
    invitation_id, token = make_invitation()
    notebook = _notebook_bytes(app, solution=False)
    assert _upload(client, token, notebook).status_code == 302
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        invitation.opens_at = utcnow() - timedelta(days=3)
        invitation.due_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        fingerprint = invitation.submissions[0].sha256[:12]
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "Uploads are closed" in page and fingerprint in page and "Your uploads" in page
    assert client.get(f"/i/{token}/status").get_json()[0]["version"] == 1
    refused = _upload(client, token, notebook)
    assert refused.status_code == 400
    assert "deadline has passed" in refused.get_data(as_text=True)
    with app.app_context():
        assert len(db.session.get(Invitation, invitation_id).submissions) == 1


def test_the_upload_limit_is_one_number_in_the_hint_intake_and_request_cap(app, client, make_invitation):
    from assessments.config import upload_request_cap

    app.config["UPLOAD_MAX_MB"] = 1
    app.config["MAX_CONTENT_LENGTH"] = upload_request_cap(1)
    _, token = make_invitation()
    assert "up to 1 MB." in client.get(f"/i/{token}").get_data(as_text=True)
    with app.app_context():
        spec = catalog.case_specs()["tiny-hiring"]
        notebook = release_notebook(spec)
    # Just over the limit but inside the request cap: intake refuses it, on the page, with the same number.
    notebook.cells[0].source = "x" * (1024 * 1024)
    response = _raw_upload(client, token, nbformat.writes(notebook).encode())
    assert response.status_code == 400
    assert "the limit is 1.0 MB" in response.get_data(as_text=True)
    # Far over: refused unread, and the candidate lands back on their page with the message.
    response = _raw_upload(client, token, b"{" + b" " * (3 * 1024 * 1024) + b"}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/i/{token}")
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "That file is 3.0 MB; this site accepts uploads up to 1 MB" in page
    assert 'type="file"' in page


def test_a_timed_invitation_starts_its_clock_at_the_first_download_and_marks_late_versions(
    app, client, auth, make_user, make_invitation
):
    iris = make_user("interviewer", email="iris@example.com")
    invitation_id, token = make_invitation(timed=True, panel=[iris])
    before = client.get(f"/i/{token}").get_data(as_text=True)
    assert "Your clock starts when you first download the" in before
    assert client.get(f"/i/{token}/bundle").status_code == 200
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        downloaded = invitation.first_downloaded_at
        assert downloaded is not None
        limit = invitation.time_limit_minutes
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert f"{limit} minutes from your first download" in page and "min left" in page
    # A second download does not restart the clock.
    client.get(f"/i/{token}/bundle")
    notebook = _notebook_bytes(app, solution=False)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.first_downloaded_at == downloaded
        on_time = grading.accept_submission(
            invitation, "a.ipynb", notebook, now=downloaded + timedelta(minutes=limit - 5)
        )
        late = grading.accept_submission(
            invitation, "a.ipynb", notebook, now=downloaded + timedelta(minutes=limit + 12)
        )
        assert (on_time.is_late, late.is_late) == (False, True)
        assert grading.version_timing(late).over_limit == timedelta(minutes=12)
        assert grading.version_timing(on_time).since_download == timedelta(minutes=limit - 5)
        on_time_id, late_id = on_time.id, late.id
    auth.login("iris@example.com")
    staff = client.get(f"/submissions/{late_id}").get_data(as_text=True)
    assert "12 min over the time limit" in staff
    assert limit == 20  # the fixture case's limit: the durations below read in minutes
    assert "32 min after the first download" in staff
    assert "(15 min after download)" in staff and "(32 min after download)" in staff
    assert "over the time limit" not in client.get(f"/submissions/{on_time_id}").get_data(as_text=True)


def test_an_untimed_invitation_says_it_is_on_the_honour_system(app, client, make_invitation):
    invitation_id, token = make_invitation()
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert "Nothing is" in page and "we trust you to keep to it; only the deadline is enforced" in page
    assert "clock starts" not in page
    client.get(f"/i/{token}/bundle")
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.first_downloaded_at is not None  # recorded for the pipeline, but no clock
        submission = grading.accept_submission(
            invitation,
            "a.ipynb",
            _notebook_bytes(app, solution=False),
            now=invitation.first_downloaded_at + timedelta(days=1),
        )
        assert not submission.is_late


def test_each_accepted_version_queues_a_receipt_mail_and_a_refused_one_none(app, client, make_invitation):
    from assessments.models import OutboxMail

    _, token = make_invitation()
    assert _upload(client, token, _notebook_bytes(app, solution=False)).status_code == 302
    assert _upload(client, token, b"not a notebook").status_code == 400
    with app.app_context():
        mails = db.session.scalars(select(OutboxMail).where(OutboxMail.template == "candidate_receipt")).all()
        assert len(mails) == 1
        mail = mails[0]
        submission = db.session.scalar(select(Submission))
        assert mail.to_address == "casey@example.org"
        assert "version 1" in mail.text_body and submission.sha256[:12] in mail.text_body
        assert token not in mail.text_body and "point" not in mail.text_body


def _cell_item(html: str, number: int) -> str:
    """The notebook's list item for cell `number`, as the staff page renders it."""
    found = re.search(rf'<li class="nb-cell[^"]*" id="cell-{number}" value="{number}">(.*?)</li>', html, re.S)
    assert found, f"no cell {number} in the notebook"
    return found.group(1)


def test_staff_see_each_check_at_its_answer_cell_numbered_as_the_grader_numbers_it(
    app, client, auth, make_user, make_invitation
):
    interviewer = make_user("interviewer", email="iris@example.com")
    invitation_id, token = make_invitation(panel=[interviewer])
    notebook = nbformat.reads(_notebook_bytes(app, solution=True).decode(), as_version=4)
    notebook.cells[1].source = 'import pandas as pd\n\nevents = pd.read_csv("data/events.csv")'
    answers = {
        c.metadata["assess"]["answer"]: i
        for i, c in enumerate(notebook.cells)
        if isinstance(c.metadata.get("assess"), dict) and "answer" in c.metadata["assess"]
    }
    assert _upload(client, token, nbformat.writes(notebook).encode()).status_code == 302
    with app.app_context():
        submission_id = db.session.scalar(select(Submission.id).where(Submission.invitation_id == invitation_id))
    auth.login("iris@example.com")
    html = client.get(f"/submissions/{submission_id}").get_data(as_text=True)
    # The candidate's broken cell is notebook.cells[1]: the grader, the cell list and the notebook all say cell 2.
    assert '<a href="#cell-2">Cell 2</a>' in html
    assert "data/events.csv" in _cell_item(html, 2)
    for part, index in answers.items():
        number = index + 1
        # The check table names the answer cell by the number the notebook beside it shows ...
        row = re.search(rf"<tr class=\"check-[a-z]+\"><td><code>{part}</code></td><td>(.*?)</td>", html).group(1)
        assert row == f'<a href="#cell-{number}">cell {number}</a>'
        # ... the grader's message says the same number ...
        assert f"(its answer cell is cell {number})" in html or f"its answer cell (cell {number})" in html
        # ... and the result is shown at that cell, not only in the table at the top.
        item = _cell_item(html, number)
        assert f"answer: {part}" in item
        assert f"Check on <code>{part}</code>: missing" in item


def test_the_status_poll_reports_each_versions_newest_run_as_the_page_does(app, client, make_invitation):
    from assessments.grading.checks import MISSING
    from assessments.grading.report import CellResult, CheckResult, GradeReport, Timings

    invitation_id, token = make_invitation()
    with app.app_context():
        versions = [
            Submission(invitation_id=invitation_id, version=n, sha256=str(n) * 64, size=1, filename="nb.ipynb")
            for n in (1, 2, 3)
        ]
        db.session.add_all(versions)
        db.session.flush()
        checks = (CheckResult("a", 1.0, 1.0, "correct", "right"), CheckResult("b", 0.0, 1.0, MISSING, ""))
        report = GradeReport("t", "tiny-hiring", "t", 1, 1.0, 2.0, checks, (CellResult(0, "ok", None, 0.1),), Timings())

        def run(submission: Submission, status: GradeStatus, **fields) -> GradeRun:
            return GradeRun(submission_id=submission.id, grader_version="t", case_version="t", status=status, **fields)

        # Version 1 failed, then a regrade finished; version 2 is being checked; version 3 waits.
        db.session.add(run(versions[0], GradeStatus.FAILED, error="worker lost"))
        db.session.flush()
        db.session.add_all(
            [run(versions[0], GradeStatus.DONE, results=report.to_dict()), run(versions[1], GradeStatus.RUNNING)]
        )
        db.session.commit()
    expected = [
        {"version": 1, "state": "done", "text": "ran without errors; 1 of 2 answers found (not found: b)"},
        {"version": 2, "state": "running", "text": "being checked"},
        {"version": 3, "state": "queued", "text": "received, waiting to be checked"},
    ]
    assert client.get(f"/i/{token}/status").get_json() == expected
    page = client.get(f"/i/{token}").get_data(as_text=True)
    assert all(row["text"] in page for row in expected)
