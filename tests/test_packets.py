"""The hiring packet: what it holds, who may open it and when, the page and the PDF."""

from __future__ import annotations

import io
import threading
import unicodedata
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import nbformat
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from assessments.content.notebook import solution_notebook
from assessments.errors import AccessDenied
from assessments.extensions import db
from assessments.grading.report import CheckResult, GradeReport, Timings
from assessments.models import AuditEvent, GradeStatus, Invitation, User
from assessments.scorecard import ScorecardResult
from assessments.services import catalog, decisions, grading, packets, scorecards

ALICE_EVIDENCE = "Alice-saw-the-SRM-check in cell four"
BOB_EVIDENCE = "Bob-found-the-guardrail missing"


class _Beacon(BaseHTTPRequestHandler):
    """Counts requests: a packet's printing must never fetch what a candidate's HTML points at."""

    hits: list[str] = []

    def do_GET(self) -> None:
        _Beacon.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def beacon():
    _Beacon.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Beacon)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def panel(app, make_user, make_invitation):
    alice = make_user("interviewer", email="alice@example.com", name="Alice Interviewer")
    bob = make_user("interviewer", email="bob@example.com", name="Bob Interviewer")
    invitation_id, _ = make_invitation(panel=[alice, bob])
    return invitation_id, alice, bob


def _hostile_notebook(app, beacon_url: str = "http://127.0.0.1:9/none") -> bytes:
    with app.app_context():
        notebook = solution_notebook(catalog.case_specs()["tiny-hiring"])
    notebook.cells.append(nbformat.v4.new_markdown_cell("<script>alert('md')</script> My write-up: SRM first."))
    code = nbformat.v4.new_code_cell("display(HTML(...))")
    code.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": f"<b>html-output</b><script>document.write('SCRIPT-RAN')</script><img src='{beacon_url}/x.png'>"
            },
        )
    ]
    notebook.cells.append(code)
    return nbformat.writes(notebook).encode()


def _submit_notebook(app, invitation_id: int, raw: bytes) -> None:
    """A version of the notebook, and a finished grade run for it with two parts."""
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        submission = grading.accept_submission(invitation, "answers.ipynb", raw)
        report = GradeReport(
            "test",
            "tiny-hiring",
            invitation.case.content_hash,
            invitation.seed,
            1.5,
            3.0,
            (
                CheckResult("treatment_rate", 1.0, 1.0, "pass", "ok"),
                CheckResult("lift", 0.5, 2.0, "partial", "close"),
            ),
            (),
            Timings(),
        )
        run = submission.grade_runs[-1]
        run.status, run.results, run.earned, run.possible = GradeStatus.DONE, report.to_dict(), 1.5, 3.0
        db.session.commit()


def _scorecard(app, invitation_id: int, user: User, evidence: str, recommendation: str) -> None:
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        rubric = scorecards.rubric_for()
        focus = scorecards.kit_for(invitation).focus_dimension_ids
        scorecards.save_scorecard(
            invitation,
            db.session.get(User, user.id),
            ScorecardResult(
                rubric.slug,
                rubric.content_hash,
                {d: 3 for d in focus},
                {d: f"{evidence} ({d})" for d in focus},
                (),
                f"Take-away from {evidence}",
                recommendation,
                True,
            ),
        )


def invitation_title(app, invitation_id: int) -> str:
    with app.app_context():
        return db.session.get(Invitation, invitation_id).case.title


def _admin(app) -> User:
    return db.session.scalar(select(User).where(User.email == "owner@example.com"))


def _events(app) -> list[AuditEvent]:
    with app.app_context():
        events = list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "packet.downloaded")))
        db.session.expunge_all()
        return events


def test_the_packet_holds_grade_scorecards_decision_and_notebook(app, panel):
    invitation_id, alice, bob = panel
    _submit_notebook(app, invitation_id, _hostile_notebook(app))
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    _scorecard(app, invitation_id, bob, BOB_EVIDENCE, "no")
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        decisions.record_decision(invitation, "advance", "Strong on rigour.", _admin(app))
        packet = packets.hiring_packet(invitation, db.session.get(User, alice.id))

    assert packet.candidate == "Casey Candidate"
    assert packet.case_title == invitation.case.title
    assert [(c.part_id, c.earned, c.possible) for c in packet.auto_grade.checks] == [
        ("treatment_rate", 1.0, 1.0),
        ("lift", 0.5, 2.0),
    ]
    by_name = {s.interviewer: s for s in packet.scorecards}
    assert set(by_name) == {"Alice Interviewer", "Bob Interviewer"}
    assert all(ALICE_EVIDENCE in r.evidence for r in by_name["Alice Interviewer"].ratings)
    assert all(r.level == 3 and r.level_label for r in by_name["Bob Interviewer"].ratings)
    assert by_name["Alice Interviewer"].recommendation != by_name["Bob Interviewer"].recommendation
    assert sum(packet.recommendations.values()) == 2
    assert packet.pending == ()
    assert (packet.decision.outcome, packet.decision.note) == ("advance", "Strong on rigour.")
    assert packet.notebook.version == 1
    assert "My write-up: SRM first." in nbformat.writes(nbformat.from_dict(packet.notebook.content))
    assert packet.prepared_for == "Alice Interviewer"


def test_an_interviewer_opens_it_only_after_their_own_scorecard(app, panel, make_user):
    invitation_id, alice, bob = panel
    outsider = make_user("interviewer", email="out@example.com")
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        with pytest.raises(AccessDenied, match="own scorecard"):
            packets.hiring_packet(invitation, db.session.get(User, bob.id))
        with pytest.raises(AccessDenied, match="not on this candidate's interview panel"):
            packets.hiring_packet(invitation, db.session.get(User, outsider.id))
        with pytest.raises(AccessDenied):
            packets.record_packet_download(invitation, db.session.get(User, bob.id), "pdf")
        # Admins may open it before anyone has written: it says who is still to submit.
        packet = packets.hiring_packet(invitation, _admin(app))
        assert [s.interviewer for s in packet.scorecards] == ["Alice Interviewer"]
        assert packet.pending == ("Bob Interviewer",)
        assert packet.notebook is None and packet.auto_grade is None and packet.decision is None


def test_a_download_is_audited_with_its_format(app, panel):
    invitation_id, alice, _ = panel
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    with app.app_context():
        packets.record_packet_download(db.session.get(Invitation, invitation_id), db.session.get(User, alice.id), "pdf")
    [event] = _events(app)
    assert (event.actor_label, event.object_id, event.details) == (
        "alice@example.com",
        invitation_id,
        {"format": "pdf"},
    )


def test_the_page_shows_the_packet_safely_and_never_the_email(app, client, auth, panel):
    invitation_id, alice, bob = panel
    _submit_notebook(app, invitation_id, _hostile_notebook(app))
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    _scorecard(app, invitation_id, bob, BOB_EVIDENCE, "no")
    auth.login("alice@example.com")
    response = client.get(f"/panels/{invitation_id}/packet")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Hiring packet · Casey Candidate" in page
    assert ALICE_EVIDENCE in page and BOB_EVIDENCE in page
    assert "0.5 of 2" in page and "1.5</strong> of 3" in page
    assert "My write-up: SRM first." in page and "<b>html-output</b>" in page
    assert "<script>alert" not in page and "document.write" not in page
    assert "casey@example.org" not in page
    assert f"/panels/{invitation_id}/packet.pdf" in page
    assert [e.details for e in _events(app)] == [{"format": "html"}]
    # The debrief links to it.
    assert f"/panels/{invitation_id}/packet" in client.get(f"/panels/{invitation_id}/debrief").get_data(as_text=True)


def test_an_interviewer_who_has_not_submitted_is_told_why(app, client, auth, panel):
    invitation_id, alice, _ = panel
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    auth.login("bob@example.com")
    for path in ("packet", "packet.pdf"):
        response = client.get(f"/panels/{invitation_id}/{path}")
        assert response.status_code == 403
        assert "opens once your own scorecard" in response.get_data(as_text=True)
        assert ALICE_EVIDENCE not in response.get_data(as_text=True)
    assert _events(app) == []


def test_without_chromium_the_page_says_so_and_the_pdf_is_a_clear_error(app, client, auth, panel):
    invitation_id, alice, _ = panel
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    app.config["CHROMIUM_PATH"] = "/nonexistent/chromium"
    auth.login("alice@example.com")
    page = client.get(f"/panels/{invitation_id}/packet").get_data(as_text=True)
    assert "needs Chromium" in page and "packet.pdf" not in page
    response = client.get(f"/panels/{invitation_id}/packet.pdf")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "not installed on this server" in text and f"/panels/{invitation_id}/packet" in text
    assert [e.details for e in _events(app)] == [{"format": "html"}]


@pytest.mark.browser
def test_the_pdf_holds_the_scorecards_and_fetches_nothing(app, client, auth, panel, beacon):
    invitation_id, alice, bob = panel
    _submit_notebook(app, invitation_id, _hostile_notebook(app, beacon))
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    _scorecard(app, invitation_id, bob, BOB_EVIDENCE, "no")
    auth.login("alice@example.com")
    response = client.get(f"/panels/{invitation_id}/packet.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="hiring-packet-{invitation_id}.pdf"'
    assert response.data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(unicodedata.normalize("NFKC", text).split())  # Chromium sets "fi" as a ligature
    assert "Casey Candidate" in flat
    assert ALICE_EVIDENCE in flat and BOB_EVIDENCE in flat
    assert "My write-up: SRM first." in flat and "html-output" in flat
    assert "SCRIPT-RAN" not in flat  # printed with JavaScript off
    assert (
        f"Hiring packet · Casey Candidate · {invitation_title(app, invitation_id)} · confidential · page 1 of" in flat
    )
    assert _Beacon.hits == []  # and nothing the candidate's HTML points at was fetched
    assert [e.details for e in _events(app)] == [{"format": "pdf"}]


@pytest.mark.browser
def test_a_pdf_over_its_time_limit_is_an_error_page(app, client, auth, panel):
    invitation_id, alice, _ = panel
    _scorecard(app, invitation_id, alice, ALICE_EVIDENCE, "yes")
    app.config["PACKET_PDF_TIMEOUT_SECONDS"] = 0.2
    auth.login("alice@example.com")
    response = client.get(f"/panels/{invitation_id}/packet.pdf")
    assert response.status_code == 503
    text = response.get_data(as_text=True)
    assert "took longer than 0.2 seconds" in text and f"/panels/{invitation_id}/packet" in text
    assert _events(app) == []
