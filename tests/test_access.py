"""The access matrix: every route × every role gets the response its role should.

A new route without an entry here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import nbformat
import pytest

from assessments.content.notebook import release_notebook
from assessments.extensions import db
from assessments.models import Invitation
from assessments.services import catalog, grading

ROLES = ("anonymous", "candidate", "admin", "interviewer", "mentor", "mentee")
OK, REDIRECT, LOGIN, FORBIDDEN, GONE = 200, 302, "login", 403, 404

# endpoint -> (method, url template, {role: expected}); "login" means a redirect to sign in.
MATRIX: dict[str, tuple[str, str, dict[str, object]]] = {
    "main.index": ("GET", "/", {"anonymous": LOGIN, "candidate": LOGIN, "*": REDIRECT}),
    "main.dashboard": ("GET", "/dashboard", {"anonymous": LOGIN, "candidate": LOGIN, "*": OK}),
    "auth.login": ("GET", "/login", {"anonymous": OK, "candidate": OK, "*": REDIRECT}),
    "auth.logout": ("POST", "/logout", {"anonymous": LOGIN, "candidate": LOGIN, "*": REDIRECT}),
    # Choosing a password: the mailed link's token is the credential; an unknown one is 404 for all.
    "password.forgot": ("GET", "/password/forgot", {"*": OK}),
    "password.set_password": ("GET", "/password/set/not-a-real-token", {"*": GONE}),
    "admin.invitation_list": (
        "GET",
        "/admin/invitations",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    # Integrity flags compare every panel's submissions: admins only, never interviewers.
    "admin.case_integrity": (
        "GET",
        "/admin/cases/tiny-hiring/integrity",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "admin.invitation_new": (
        "GET",
        "/admin/invitations/new",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "admin.invitation_detail": (
        "GET",
        "/admin/invitations/{invitation_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "admin.invitation_revoke": (
        "POST",
        "/admin/invitations/{invitation_id}/revoke",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "admin.invitation_extend": (
        "POST",
        "/admin/invitations/{invitation_id}/extend",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "admin.invitation_resend": (
        "POST",
        "/admin/invitations/{invitation_id}/resend",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "admin.invitation_restore": (
        "POST",
        "/admin/invitations/{invitation_id}/restore",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "admin.panel_add": (
        "POST",
        "/admin/invitations/{invitation_id}/panel",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    # The person is a mentee who is not on the panel: the admin is told so and sent back.
    "admin.panel_remove": (
        "POST",
        "/admin/invitations/{invitation_id}/panel/{mentee_id}/remove",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    # The candidate's own link works for whoever holds it; nobody else has a token to use.
    "candidate.invitation": ("GET", "/i/{token}", {"*": OK}),
    "candidate.bundle": ("GET", "/i/{token}/bundle", {"*": OK}),
    "candidate.status": ("GET", "/i/{token}/status", {"*": OK}),
    # An upload without a file is refused with a form error, for whoever holds the link.
    "candidate.upload": ("POST", "/i/{token}", {"*": 400}),
    # Voluntary self-identification: the candidate's own link; an empty answer is "not answered".
    "candidate.self_identification": ("GET", "/i/{token}/self-identification", {"*": OK}),
    "candidate.save_self_identification": ("POST", "/i/{token}/self-identification", {"*": REDIRECT}),
    # The adverse impact report is the one reader of self-identification: admins only.
    "fairness.report": (
        "GET",
        "/admin/fairness/",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "fairness.export": (
        "GET",
        "/admin/fairness/report.json",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "fairness.import_self_identification": (
        "POST",
        "/admin/fairness/import",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": 400, "*": FORBIDDEN},
    ),
    # Interviewers see only submissions of panels they sit on (none here).
    "submissions.detail": (
        "GET",
        "/submissions/{submission_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "submissions.status": (
        "GET",
        "/submissions/{submission_id}/status",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "submissions.regrade": (
        "POST",
        "/submissions/{submission_id}/regrade",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    # Scorecards are written by panel members only; nobody in this matrix sits on the panel.
    "panels.scorecard": (
        "GET",
        "/panels/{invitation_id}/scorecard",
        {"anonymous": LOGIN, "candidate": LOGIN, "*": FORBIDDEN},
    ),
    "panels.autosave": (
        "POST",
        "/panels/{invitation_id}/scorecard/draft",
        {"anonymous": LOGIN, "candidate": LOGIN, "*": FORBIDDEN},
    ),
    "panels.amend": (
        "GET",
        "/panels/{invitation_id}/amend",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "panels.debrief": (
        "GET",
        "/panels/{invitation_id}/debrief",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "panels.decide": (
        "POST",
        "/panels/{invitation_id}/decision",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "panels.export_json": (
        "GET",
        "/panels/{invitation_id}/scorecards.json",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "panels.export_csv": (
        "GET",
        "/panels/{invitation_id}/scorecards.csv",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    # The hiring packet follows the debrief: admins always, panel interviewers once their own scorecard is in.
    "packets.packet": (
        "GET",
        "/panels/{invitation_id}/packet",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "packets.packet_pdf": (
        "GET",
        "/panels/{invitation_id}/packet.pdf",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "calibration.report": (
        "GET",
        "/calibration/",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "calibration.session_agenda": (
        "GET",
        "/calibration/session",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "calibration.export": (
        "GET",
        "/calibration/report.json",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "vendor.plotly_js": ("GET", "/vendor/plotly.min.js", {"*": OK}),
    "static": ("GET", "/static/style.css", {"*": OK}),
    # Operations endpoints need no login; /metrics answers loopback (the test client is 127.0.0.1).
    "ops.healthz": ("GET", "/healthz", {"*": OK}),
    "ops.readyz": ("GET", "/readyz", {"*": OK}),
    "ops.metrics": ("GET", "/metrics", {"*": OK}),
    # Practice is for mentees only; the matrix's mentee has not started the case, so its own pages
    # are 404, and the attempt belongs to another mentee (404: the same as one that does not exist).
    "practice.catalogue": ("GET", "/practice/", {"anonymous": LOGIN, "candidate": LOGIN, "mentee": OK, "*": FORBIDDEN}),
    "practice.progress_page": (
        "GET",
        "/practice/progress",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": OK, "*": FORBIDDEN},
    ),
    "practice.case": (
        "GET",
        "/practice/cases/tiny-hiring",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": OK, "*": FORBIDDEN},
    ),
    "practice.start": (
        "POST",
        "/practice/cases/tiny-hiring/start",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": REDIRECT, "*": FORBIDDEN},
    ),
    "practice.bundle": (
        "GET",
        "/practice/cases/tiny-hiring/bundle",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.upload": (
        "POST",
        "/practice/cases/tiny-hiring/upload",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.upload_page": (
        "GET",
        "/practice/cases/tiny-hiring/upload",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": REDIRECT, "*": FORBIDDEN},
    ),
    "practice.review_exercise": (
        "GET",
        "/practice/cases/tiny-hiring/review",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.unlock": (
        "POST",
        "/practice/cases/tiny-hiring/unlock",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.confirm_unlock": (
        "GET",
        "/practice/cases/tiny-hiring/unlock",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.solution": (
        "GET",
        "/practice/cases/tiny-hiring/solution",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    "practice.attempt": (
        "GET",
        "/practice/attempts/{attempt_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "mentee": GONE, "*": FORBIDDEN},
    ),
    # Mentors see only the mentees an admin paired them with (the matrix's mentor is paired with nobody).
    "mentoring.mentees": ("GET", "/mentoring/", {"anonymous": LOGIN, "candidate": LOGIN, "mentor": OK, "*": FORBIDDEN}),
    "mentoring.mentee": (
        "GET",
        "/mentoring/mentees/{mentee_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "*": FORBIDDEN},
    ),
    "mentoring.attempt": (
        "GET",
        "/mentoring/attempts/{attempt_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "*": FORBIDDEN},
    ),
    "mentoring.review": (
        "GET",
        "/mentoring/attempts/{attempt_id}/review",
        {"anonymous": LOGIN, "candidate": LOGIN, "*": FORBIDDEN},
    ),
    "mentoring.pairs": (
        "GET",
        "/mentoring/pairs",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    # People and the outbox: admins only. The person is another mentee; the mail one sent to them.
    "people.people_list": (
        "GET",
        "/admin/people/",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "people.person_new": (
        "GET",
        "/admin/people/new",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "people.person_detail": (
        "GET",
        "/admin/people/{mentee_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "people.person_role": (
        "POST",
        "/admin/people/{mentee_id}/role",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "people.person_deactivate": (
        "POST",
        "/admin/people/{mentee_id}/deactivate",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "people.person_reactivate": (
        "POST",
        "/admin/people/{mentee_id}/reactivate",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "people.person_send_link": (
        "POST",
        "/admin/people/{mentee_id}/link",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "outbox.mail_list": (
        "GET",
        "/admin/outbox/",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "outbox.mail_detail": (
        "GET",
        "/admin/outbox/{mail_id}",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "outbox.mail_retry": (
        "POST",
        "/admin/outbox/{mail_id}/retry",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    "mentoring.end_pair": (
        "POST",
        "/mentoring/pairs/{pairing_id}/end",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": REDIRECT, "*": FORBIDDEN},
    ),
    # Outcomes are HR data and the validity report reads them: admins only, never interviewers or
    # mentors. An empty form or file is refused with 400 for the admin.
    "validity.outcome_list": (
        "GET",
        "/admin/outcomes",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
    "validity.outcome_save": (
        "POST",
        "/admin/outcomes",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": 400, "*": FORBIDDEN},
    ),
    "validity.outcome_import": (
        "POST",
        "/admin/outcomes/import",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": 400, "*": FORBIDDEN},
    ),
    "validity.report": (
        "GET",
        "/admin/validity",
        {"anonymous": LOGIN, "candidate": LOGIN, "admin": OK, "*": FORBIDDEN},
    ),
}


def _submission(app, invitation_id: int) -> int:
    """A stored, ungraded submission (the queue is replaced so nothing runs)."""
    queue = app.extensions["assessments.queue"]
    app.extensions["assessments.queue"] = type(queue)(huey=queue.huey, grade=lambda run_id: None)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        spec = catalog.case_specs()["tiny-hiring"]
        raw = nbformat.writes(release_notebook(spec)).encode()
        return grading.accept_submission(invitation, "nb.ipynb", raw).id


def _mentorship(app) -> dict[str, int]:
    """Another mentee's graded practice attempt, their pairing with another mentor, and a mail to them."""
    from assessments.models import AttemptStatus, PracticeAttempt
    from assessments.services import accounts, mentoring, outbox, people, practice

    with app.app_context():
        owner = accounts.create_user("owner-mentee@example.com", "Owner Mentee", "mentee", "pw-owner-mentee")
        mentor = accounts.create_user("owner-mentor@example.com", "Owner Mentor", "mentor", "pw-owner-mentor")
        admin = accounts.find_user_by_email("owner@example.com")
        pairing = mentoring.pair(mentor, owner, admin)
        own = practice.start_practice(owner, "tiny-hiring")
        attempt = PracticeAttempt(
            practice=own, number=1, route="notebook", status=AttemptStatus.DONE, earned=1.0, possible=5.0
        )
        db.session.add(attempt)
        db.session.commit()
        people.resend_password_link(owner, admin)  # a mail in the outbox
        mail_id = outbox.mails_about(f"user:{owner.id}")[0].id
        return {"mentee_id": owner.id, "attempt_id": attempt.id, "pairing_id": pairing.id, "mail_id": mail_id}


def test_every_route_is_in_the_matrix(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    missing = endpoints - MATRIX.keys()
    assert not missing, f"routes without an access-matrix entry: {sorted(missing)}"
    assert not MATRIX.keys() - endpoints, "matrix entries for routes that no longer exist"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(MATRIX))
def test_access(app, client, auth, make_user, make_invitation, role, endpoint):
    method, template, expectations = MATRIX[endpoint]
    expected = expectations.get(role, expectations.get("*"))
    invitation_id, token = make_invitation()
    submission_id = _submission(app, invitation_id)
    if role not in ("anonymous", "candidate"):
        user = make_user(role)
        assert auth.login(user.email).status_code == 302
    elif role == "candidate":
        client.get(f"/i/{token}")
    url = template.format(invitation_id=invitation_id, token=token, submission_id=submission_id, **_mentorship(app))
    response = client.open(url, method=method)
    response.close()
    if expected == LOGIN:
        assert response.status_code == 302, response.status_code
        assert "/login" in response.headers["Location"]
    else:
        assert response.status_code == expected


def test_unknown_invitation_id_is_404_for_admins(client, auth, make_user):
    admin = make_user("admin")
    auth.login(admin.email)
    assert client.get("/admin/invitations/999999").status_code == 404
