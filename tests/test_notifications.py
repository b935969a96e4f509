"""Notification mails: scorecards waiting, scorecard and deadline reminders, new practice attempts."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import nbformat
import pytest
from sqlalchemy import select

from assessments import queue
from assessments.content.notebook import release_notebook
from assessments.extensions import db
from assessments.models import Invitation, OutboxMail, PanelMember, PracticeAttempt, Submission, User
from assessments.models.types import utcnow
from assessments.scorecard import ScorecardResult
from assessments.services import (
    accounts,
    blinding,
    catalog,
    decisions,
    grade_runs,
    grading,
    invitations,
    mentoring,
    notifications,
    panels,
    practice,
    scorecards,
)
from tests.mailserver import html_of, link_in, text_of
from tests.test_practice import REVIEW, _flags, _planted, use_practice_cases

NAME, EMAIL = "Casey Candidate", "casey@example.org"


@pytest.fixture(autouse=True)
def no_grading(monkeypatch):
    """These tests are about mails: a submission is recorded but never graded."""
    monkeypatch.setattr(grade_runs, "enqueue", lambda run: None)


def _upload(invitation_id: int, now: datetime | None = None) -> int:
    invitation = db.session.get(Invitation, invitation_id)
    raw = nbformat.writes(release_notebook(catalog.spec_for(invitation.case))).encode()
    return grading.accept_submission(invitation, "answers.ipynb", raw, now=now).id


def _mails(template: str) -> list[OutboxMail]:
    return list(db.session.scalars(select(OutboxMail).where(OutboxMail.template == template).order_by(OutboxMail.id)))


@pytest.fixture
def panel(make_user):
    return [
        make_user("interviewer", email="iris@example.com", name="Iris Interviewer"),
        make_user("interviewer", email="ivan@example.com", name="Ivan Interviewer"),
    ]


def test_the_first_version_tells_each_panelist_once_and_later_versions_do_not(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        _upload(invitation_id)
        _upload(invitation_id)
        mails = _mails("scorecard_waiting")
        assert sorted(m.to_address for m in mails) == ["iris@example.com", "ivan@example.com"]
        assert {m.about for m in mails} == {f"scorecard-waiting:{invitation_id}:{u.id}" for u in panel}
        for mail in mails:
            assert f"http://localhost/panels/{invitation_id}/scorecard" in mail.text_body
            assert f'href="http://localhost/panels/{invitation_id}/scorecard"' in mail.html_body


def test_a_blind_invitations_mail_names_the_candidate_by_code_only(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        assert invitation.blind_first_read
        code = blinding.candidate_code(invitation)
        _upload(invitation_id)
        mails = _mails("scorecard_waiting")
        assert mails
        for mail in mails:
            for part in (mail.subject, mail.text_body, mail.html_body):
                assert code in part
                assert NAME not in part and "Casey" not in part
                assert EMAIL not in part and "casey@" not in part


def test_an_invitation_that_is_not_blind_names_the_candidate(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel, blind_first_read=False)
    with app.app_context():
        _upload(invitation_id)
        mail = _mails("scorecard_waiting")[0]
        assert NAME in mail.subject and NAME in mail.text_body and NAME in mail.html_body


def test_a_deactivated_panelist_is_not_mailed(app, panel, make_invitation):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        db.session.get(User, panel[1].id).active = False
        db.session.commit()
        _upload(invitation_id)
        assert [m.to_address for m in _mails("scorecard_waiting")] == ["iris@example.com"]


def test_panelists_receive_the_scorecard_waiting_mail_over_smtp(app, panel, make_invitation, smtp_server):
    invitation_id, _ = make_invitation(panel=panel)
    with app.app_context():
        code = blinding.candidate_code(db.session.get(Invitation, invitation_id))
        _upload(invitation_id)
    for address in ("iris@example.com", "ivan@example.com"):
        received = smtp_server.wait_for(address)
        assert received["Subject"] == f"Scorecard waiting: {code} (Tiny hiring case: a two-arm conversion test)"
        assert link_in(received, "/panels/") == f"http://localhost/panels/{invitation_id}/scorecard"
        assert code in html_of(received) and NAME not in text_of(received) + html_of(received)
    # The candidate's receipt went too, and nothing else.
    assert len(smtp_server.messages) == 3


def test_a_panelist_added_after_the_submission_is_told_then_and_one_put_back_after_scoring_is_not(
    app, panel, make_invitation
):
    iris, ivan = panel
    invitation_id, _ = make_invitation(panel=[iris])
    with app.app_context():
        admin = accounts.find_user_by_email("owner@example.com")
        invitation = db.session.get(Invitation, invitation_id)
        panels.add_panel_member(invitation, db.session.get(User, ivan.id), admin)
        assert _mails("scorecard_waiting") == []  # nothing waits before the candidate submits
        panels.remove_panel_member(invitation, db.session.get(User, ivan.id), admin)
        _upload(invitation_id)
        assert [m.to_address for m in _mails("scorecard_waiting")] == ["iris@example.com"]
        panels.add_panel_member(invitation, db.session.get(User, ivan.id), admin)
        assert [m.to_address for m in _mails("scorecard_waiting")] == ["iris@example.com", "ivan@example.com"]
        assert _mails("scorecard_waiting")[1].about == f"scorecard-waiting:{invitation_id}:{ivan.id}"
        _submit_scorecard(invitation_id, iris)
        panels.remove_panel_member(invitation, db.session.get(User, iris.id), admin)
        panels.add_panel_member(invitation, db.session.get(User, iris.id), admin)
        assert len(_mails("scorecard_waiting")) == 2


# Scorecard reminders -------------------------------------------------------------------------


def _submit_scorecard(invitation_id: int, user: User) -> None:
    rubric = scorecards.rubric_for()
    levels = {d.id: 3 for d in rubric.dimensions}
    result = ScorecardResult(
        rubric_slug=rubric.slug,
        rubric_hash=rubric.content_hash,
        ratings=levels,
        evidence={d: "Clear reasoning." for d in levels},
        red_flags=(),
        takeaways="Solid.",
        recommendation="yes",
        is_final=True,
    )
    scorecards.save_scorecard(db.session.get(Invitation, invitation_id), db.session.get(User, user.id), result)


def _submitted(app, panel, make_invitation, **kwargs) -> tuple[int, datetime]:
    """An invitation with `panel` whose candidate uploaded once; returns its id and the upload time."""
    invitation_id, _ = make_invitation(panel=panel, **kwargs)
    with app.app_context():
        submission_id = _upload(invitation_id)
        return invitation_id, db.session.get(Submission, submission_id).uploaded_at


def test_a_panelist_without_a_scorecard_is_reminded_once_two_days_after_the_submission(app, panel, make_invitation):
    invitation_id, at = _submitted(app, panel, make_invitation)
    with app.app_context():
        assert notifications.sweep_reminders(now=at + timedelta(days=2) - timedelta(minutes=1)) == 0
        due = at + timedelta(days=2, minutes=1)
        assert notifications.sweep_reminders(now=due) == 2
        # The sweep runs every minute, on every worker: nothing more, ever.
        assert notifications.sweep_reminders(now=due) == 0
        assert notifications.sweep_reminders(now=due + timedelta(days=5)) == 0
        mails = _mails("scorecard_reminder")
        assert sorted(m.to_address for m in mails) == ["iris@example.com", "ivan@example.com"]
        code = blinding.candidate_code(db.session.get(Invitation, invitation_id))
        for mail in mails:
            assert mail.about == f"scorecard-reminder:{invitation_id}:{mail.about.rsplit(':', 1)[1]}"
            assert f"http://localhost/panels/{invitation_id}/scorecard" in mail.text_body
            for part in (mail.subject, mail.text_body, mail.html_body):
                assert code in part and "Casey" not in part and "casey@" not in part


def test_a_panelist_who_submitted_is_not_reminded(app, panel, make_invitation):
    invitation_id, at = _submitted(app, panel, make_invitation)
    with app.app_context():
        _submit_scorecard(invitation_id, panel[0])
        assert notifications.sweep_reminders(now=at + timedelta(days=3)) == 1
        assert [m.to_address for m in _mails("scorecard_reminder")] == ["ivan@example.com"]


def test_a_panelist_added_later_gets_two_days_from_being_added(app, panel, make_invitation):
    invitation_id, at = _submitted(app, panel[:1], make_invitation)
    with app.app_context():
        admin = accounts.find_user_by_email("owner@example.com")
        invitation = db.session.get(Invitation, invitation_id)
        panels.add_panel_member(invitation, db.session.get(User, panel[1].id), admin)
        member = db.session.scalar(select(PanelMember).where(PanelMember.interviewer_id == panel[1].id))
        member.added_at = at + timedelta(days=1)
        db.session.commit()
        assert notifications.sweep_reminders(now=at + timedelta(days=2, minutes=1)) == 1
        assert [m.to_address for m in _mails("scorecard_reminder")] == ["iris@example.com"]
        assert notifications.sweep_reminders(now=at + timedelta(days=3, minutes=1)) == 1
        assert [m.to_address for m in _mails("scorecard_reminder")] == ["iris@example.com", "ivan@example.com"]


def test_no_scorecard_reminder_before_any_submission_on_a_revoked_or_a_decided_invitation(app, panel, make_invitation):
    make_invitation(panel=panel)
    revoked_id, at = _submitted(app, panel, make_invitation)
    decided_id, _ = _submitted(app, panel, make_invitation)
    with app.app_context():
        admin = accounts.find_user_by_email("owner@example.com")
        invitations.revoke_invitation(db.session.get(Invitation, revoked_id), admin)
        decisions.record_decision(db.session.get(Invitation, decided_id), "reject", "Enough seen.", admin)
        assert notifications.sweep_reminders(now=at + timedelta(days=3)) == 0
        assert _mails("scorecard_reminder") == []


def test_a_worker_holding_a_stale_list_cannot_send_a_reminder_another_worker_claimed(app, panel, make_invitation):
    _, at = _submitted(app, panel, make_invitation)
    with app.app_context():
        due = at + timedelta(days=2, minutes=1)
        # Worker A reads what is due; worker B sweeps and commits before A claims anything.
        seen_by_a = notifications.due_scorecard_reminders(due)
        assert len(seen_by_a) == 2
        assert notifications.sweep_reminders(now=due) == 2
        assert [notifications.remind_panelist(member_id, due) for member_id in seen_by_a] == [False, False]
        db.session.commit()
        assert len(_mails("scorecard_reminder")) == 2


def test_two_workers_sweeping_at_the_same_moment_send_each_reminder_once(app, panel, make_invitation):
    submitted = [_submitted(app, panel, make_invitation) for _ in range(3)]
    waiting = [make_invitation(days=3)[0] for _ in range(3)]
    with app.app_context():
        latest = max(at for _, at in submitted)
        due_at = min(_deadline(invitation_id) for invitation_id in waiting)
    now = max(latest + timedelta(days=2, minutes=1), due_at - timedelta(hours=2))
    assert now < due_at
    start = threading.Barrier(2)
    claimed: list[int] = []

    def worker() -> None:
        with app.app_context():
            start.wait()
            claimed.append(notifications.sweep_reminders(now=now))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with app.app_context():
        # A claim lost to a locked database is not lost: the next sweep finds it.
        claimed.append(notifications.sweep_reminders(now=now + timedelta(minutes=1)))
        assert sum(claimed) == 3 * 2 + 3
        assert len(_mails("scorecard_reminder")) == 3 * 2
        assert len(_mails("deadline_reminder")) == 3
        abouts = [m.about for m in _mails("scorecard_reminder") + _mails("deadline_reminder")]
        assert len(set(abouts)) == len(abouts)


def test_a_scorecard_that_arrives_after_the_seat_was_found_due_stops_its_reminder(app, panel, make_invitation):
    invitation_id, at = _submitted(app, panel[:1], make_invitation)
    with app.app_context():
        due = at + timedelta(days=2, minutes=1)
        [member_id] = notifications.due_scorecard_reminders(due)
        _submit_scorecard(invitation_id, panel[0])
        assert notifications.remind_panelist(member_id, due) is False
        db.session.commit()
        assert _mails("scorecard_reminder") == []


# Deadline reminders --------------------------------------------------------------------------


def _deadline(invitation_id: int) -> datetime:
    return db.session.get(Invitation, invitation_id).due_at


def test_a_candidate_without_a_submission_is_reminded_once_a_day_before_the_deadline(app, make_invitation):
    invitation_id, token = make_invitation(days=3)
    with app.app_context():
        due_at = _deadline(invitation_id)
        assert notifications.sweep_reminders(now=due_at - timedelta(hours=24, minutes=1)) == 0
        now = due_at - timedelta(hours=23, minutes=59)
        assert notifications.sweep_reminders(now=now) == 1
        assert notifications.sweep_reminders(now=now) == 0
        assert notifications.sweep_reminders(now=now + timedelta(hours=12)) == 0
        [mail] = _mails("deadline_reminder")
        assert mail.to_address == EMAIL and mail.about == f"deadline-reminder:{invitation_id}"
        when = due_at.strftime("%a %d %b %Y, %H:%M UTC")
        case_title = "Tiny hiring case: a two-arm conversion test"
        for part in (mail.text_body, mail.html_body):
            assert when in part and case_title in part
            assert "invitation mail" in part and "owner@example.com" in part
            # The link cannot be re-sent: a new token would kill the one in the invitation mail.
            assert token not in part and "/i/" not in part
        assert when in mail.subject


def test_a_candidate_who_submitted_gets_no_deadline_reminder(app, make_invitation):
    invitation_id, _ = make_invitation(days=3)
    with app.app_context():
        _upload(invitation_id)
        assert notifications.sweep_reminders(now=_deadline(invitation_id) - timedelta(hours=12)) == 0
        assert _mails("deadline_reminder") == []


def test_no_deadline_reminder_when_revoked_expired_or_invited_within_the_last_day(app, make_invitation):
    revoked_id, _ = make_invitation(days=3)
    expired_id, _ = make_invitation(days=1.5)
    make_invitation(days=0.5)  # its invitation mail is already less than a day old at the deadline
    with app.app_context():
        admin = accounts.find_user_by_email("owner@example.com")
        invitations.revoke_invitation(db.session.get(Invitation, revoked_id), admin)
        assert notifications.sweep_reminders(now=_deadline(revoked_id) - timedelta(hours=1)) == 0
        assert notifications.sweep_reminders(now=_deadline(expired_id) + timedelta(minutes=1)) == 0
        assert notifications.sweep_reminders(now=utcnow() + timedelta(hours=1)) == 0
        assert _mails("deadline_reminder") == []


def test_an_extended_deadline_earns_one_reminder_of_its_own(app, make_invitation):
    invitation_id, _ = make_invitation(days=3)
    with app.app_context():
        first_due = _deadline(invitation_id)
        assert notifications.sweep_reminders(now=first_due - timedelta(hours=2)) == 1
        admin = accounts.find_user_by_email("owner@example.com")
        invitations.extend_invitation(db.session.get(Invitation, invitation_id), first_due + timedelta(days=3), admin)
        assert notifications.sweep_reminders(now=first_due - timedelta(hours=1)) == 0
        new_due = _deadline(invitation_id)
        assert notifications.sweep_reminders(now=new_due - timedelta(hours=2)) == 1
        assert notifications.sweep_reminders(now=new_due - timedelta(hours=1)) == 0
        assert len(_mails("deadline_reminder")) == 2


def test_the_deadline_reminder_arrives_over_smtp_with_both_parts(app, make_invitation, smtp_server):
    invitation_id, token = make_invitation(days=3)
    with app.app_context():
        notifications.sweep_reminders(now=_deadline(invitation_id) - timedelta(hours=3))
    received = smtp_server.wait_for(EMAIL)
    assert received["Subject"].startswith("Reminder: your case Tiny hiring case")
    assert "invitation mail" in text_of(received) and "invitation mail" in html_of(received)
    assert token not in received.as_string()


# New practice attempts -------------------------------------------------------------------------


@pytest.fixture
def cases(app, tmp_path):
    """The practice fixture cases, synced."""
    use_practice_cases(app, tmp_path / "cases")


@pytest.fixture
def mentoring_pair(app, make_user, cases):
    admin = make_user("admin", email="admin@example.com")
    mentor = make_user("mentor", email="mona@example.com", name="Mona Mentor")
    mentee = make_user("mentee", email="milo@example.com", name="Milo Mentee")
    with app.app_context():
        mentoring.pair(db.session.get(User, mentor.id), db.session.get(User, mentee.id), db.session.get(User, admin.id))
    return mentor, mentee


def _review_attempt(app, mentee: User, now: datetime) -> PracticeAttempt:
    own = practice.start_practice(db.session.get(User, mentee.id), REVIEW, seed=9)
    return practice.submit_review_attempt(own, _flags(_planted(app, 9)[:1]), now=now)


def test_a_graded_attempt_mails_the_mentor_a_link_to_the_mentees_progress(app, mentoring_pair, smtp_server):
    mentor, mentee = mentoring_pair
    with app.app_context():
        _review_attempt(app, mentee, utcnow())
    received = smtp_server.wait_for("mona@example.com")
    assert received["Subject"] == (
        "Milo Mentee has a new practice attempt: Methodology review: churn model and renewal-offer test"
    )
    assert link_in(received, "/mentoring/") == f"http://localhost/mentoring/mentees/{mentee.id}"
    assert "attempt 1" in text_of(received) and "attempt 1" in html_of(received)


def test_at_most_one_new_attempt_mail_per_mentor_and_mentee_an_hour(app, mentoring_pair, make_user):
    mentor, mentee = mentoring_pair
    second_mentor = make_user("mentor", email="max@example.com")
    with app.app_context():
        admin = accounts.find_user_by_email("admin@example.com")
        mentoring.pair(db.session.get(User, second_mentor.id), db.session.get(User, mentee.id), admin)
        attempt = _review_attempt(app, mentee, utcnow())  # real time: both mentors mailed now
        assert sorted(m.to_address for m in _mails("mentee_new_attempt")) == ["max@example.com", "mona@example.com"]
        now = utcnow()
        assert notifications.practice_attempt_graded(attempt, now + timedelta(minutes=30)) == 0
        assert notifications.practice_attempt_graded(attempt, now + timedelta(minutes=59)) == 0
        assert notifications.practice_attempt_graded(attempt, now + timedelta(minutes=61)) == 2
        db.session.commit()
        assert len(_mails("mentee_new_attempt")) == 4
        assert {m.about for m in _mails("mentee_new_attempt")} == {
            f"new-attempt:{mentee.id}:{mentor.id}",
            f"new-attempt:{mentee.id}:{second_mentor.id}",
        }


def test_a_mentee_without_a_mentor_mails_nobody(app, make_user, cases):
    loner = make_user("mentee", email="lone@example.com")
    with app.app_context():
        _review_attempt(app, loner, utcnow())
        assert _mails("mentee_new_attempt") == []


# The worker's minute task ----------------------------------------------------------------------


def test_the_workers_reminder_task_runs_the_sweep(app, make_invitation):
    invitation_id, _ = make_invitation(days=0.5)
    with app.app_context():
        invitation = db.session.get(Invitation, invitation_id)
        invitation.created_at = invitation.due_at - timedelta(days=3)
        db.session.commit()
        # What the consumer's scheduler finds due this minute, run as it runs it.
        huey = queue.grading_queue().huey
        [task] = [t for t in huey.read_periodic(datetime.now()) if t.name == "reminder_sweep"]
        huey.execute(task)
        assert [m.to_address for m in _mails("deadline_reminder")] == [EMAIL]
