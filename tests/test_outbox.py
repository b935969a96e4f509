"""The outbox: mails recorded with their use case, sent by the queue's worker, retried, shown to admins."""

from __future__ import annotations

import logging
from datetime import timedelta

from assessments.extensions import db
from assessments.models import AuditEvent, MailStatus, OutboxMail, User
from assessments.models.types import utcnow
from assessments.services import outbox
from tests.mailserver import html_of, text_of

TOKEN = "tok-SECRET-1234567890"


def _queue(to: str = "iris@example.com") -> int:
    """A mail carrying a set-password link, committed (so the worker sends it at once in tests)."""
    user = User(id=None, email=to, display_name="Iris", role="interviewer", password_hash="!")
    mail = outbox.queue_mail(
        to,
        "Set your password",
        "password_invite",
        about="test:1",
        user=user,
        role="an interviewer",
        inviter=None,
        link=f"http://localhost/password/set/{TOKEN}",
        expires_at=utcnow() + timedelta(days=3),
    )
    db.session.commit()
    return mail.id


def test_a_committed_mail_is_sent_with_text_and_html_parts(ctx, smtp_server):
    mail_id = _queue()
    received = smtp_server.wait_for("iris@example.com")
    assert received["Subject"] == "Set your password"
    assert TOKEN in text_of(received)
    assert f'href="http://localhost/password/set/{TOKEN}"' in html_of(received)
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts, mail.transport) == (MailStatus.SENT, 1, "smtp")
    assert mail.sent_at is not None
    # Once sent, the stored copy keeps the link without its secret.
    assert TOKEN not in mail.text_body and TOKEN not in mail.html_body
    assert "/password/set/<redacted>" in mail.text_body


def test_a_rolled_back_use_case_sends_nothing(ctx, smtp_server):
    user = User(email="x@example.com", display_name="X", role="mentor", password_hash="!")
    outbox.queue_mail(
        "x@example.com",
        "Hello",
        "password_invite",
        user=user,
        role="a mentor",
        inviter=None,
        link="http://localhost/password/set/abc",
        expires_at=utcnow(),
    )
    db.session.rollback()
    assert db.session.query(OutboxMail).count() == 0
    db.session.commit()  # a later commit does not send the forgotten mail either
    assert smtp_server.messages == []


def test_a_server_that_refuses_twice_gets_the_mail_on_the_third_attempt(ctx, smtp_server):
    smtp_server.refuse(2)
    mail_id = _queue()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts) == (MailStatus.QUEUED, 1)
    assert "451" in mail.last_error
    first_retry = mail.next_attempt_at
    assert first_retry > utcnow()

    # Not due yet: the sweep leaves it.
    assert outbox.sweep_outbox() == []
    assert outbox.sweep_outbox(now=first_retry) == [mail_id]
    db.session.expire_all()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts) == (MailStatus.QUEUED, 2)
    assert mail.next_attempt_at - mail.last_attempt_at > first_retry - utcnow()  # the delay grows

    assert outbox.sweep_outbox(now=mail.next_attempt_at) == [mail_id]
    db.session.expire_all()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts) == (MailStatus.SENT, 3)
    assert len(mail.failures) == 2 and all("451" in f["error"] for f in mail.failures)
    assert len(smtp_server.messages) == 1
    assert smtp_server.inbox.refused == 2


def test_a_mail_is_marked_failed_after_the_last_attempt_and_an_admin_can_retry_it(app, ctx, smtp_server):
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    smtp_server.refuse(5)
    mail_id = _queue()
    mail = db.session.get(OutboxMail, mail_id)
    outbox.sweep_outbox(now=mail.next_attempt_at)
    db.session.expire_all()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts, mail.next_attempt_at) == (MailStatus.FAILED, 2, None)
    assert outbox.sweep_outbox(now=utcnow() + timedelta(days=1)) == []

    smtp_server.refuse(0)
    admin = User(email="boss@example.com", display_name="Boss", role="admin", password_hash="!")
    db.session.add(admin)
    db.session.commit()
    outbox.retry_mail(mail, admin)
    db.session.expire_all()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.attempts) == (MailStatus.SENT, 1)
    assert mail.history[-1] == {"at": mail.history[-1]["at"], "retried_by": "boss@example.com"}
    assert len(mail.failures) == 2
    assert db.session.query(AuditEvent).filter_by(action="mail.retried", object_id=mail_id).count() == 1


def test_without_mail_url_the_mail_goes_to_the_log_without_its_secret(app, ctx, caplog):
    assert not app.config.get("MAIL_URL")
    with caplog.at_level(logging.INFO):
        mail_id = _queue()
    mail = db.session.get(OutboxMail, mail_id)
    assert (mail.status, mail.transport) == (MailStatus.SENT, "log")
    assert "Set your password" in caplog.text
    assert TOKEN not in caplog.text


def test_an_unusable_mail_url_is_an_error_on_the_mail_not_a_crash(app, ctx):
    app.config["MAIL_URL"] = "http://mail.example.com"
    mail = db.session.get(OutboxMail, _queue())
    assert mail.status == MailStatus.QUEUED
    assert "MAIL_URL cannot be used" in mail.last_error


def test_a_mail_whose_worker_died_while_sending_is_taken_back(ctx, smtp_server, monkeypatch):
    # The queue loses the task: the mail stays queued until the sweep hands it over again.
    monkeypatch.setattr(outbox.queue, "mail_queue", lambda: _Lost())
    mail_id = _queue()
    assert outbox.claim_mail(mail_id)  # a worker claims it and dies
    monkeypatch.undo()
    assert outbox.sweep_outbox() == []  # its lease has not expired
    assert outbox.sweep_outbox(now=utcnow() + outbox.SEND_LEASE + timedelta(seconds=1)) == [mail_id]
    # The worker that takes it back sends it (its own clock is past the lease too).
    assert outbox.deliver_mail(mail_id, now=utcnow() + outbox.SEND_LEASE + timedelta(seconds=2)) == MailStatus.SENT
    assert len(smtp_server.messages) == 1


def test_a_queue_that_does_not_answer_never_fails_the_use_case(ctx, smtp_server, monkeypatch):
    monkeypatch.setattr(outbox.queue, "mail_queue", lambda: _Broken())
    mail_id = _queue()
    assert db.session.get(OutboxMail, mail_id).status == MailStatus.QUEUED
    monkeypatch.undo()
    assert outbox.sweep_outbox() == [mail_id]
    assert smtp_server.wait_for("iris@example.com")


def test_a_claimed_mail_is_not_claimed_twice(ctx, monkeypatch):
    monkeypatch.setattr(outbox.queue, "mail_queue", lambda: _Lost())
    mail_id = _queue()
    assert outbox.claim_mail(mail_id)
    assert not outbox.claim_mail(mail_id)
    assert outbox.deliver_mail(mail_id) is None


class _Lost:
    def enqueue(self, mail_id: int) -> None:
        pass


class _Broken:
    def enqueue(self, mail_id: int) -> None:
        raise ConnectionError("the queue is down")


def test_the_outbox_page_shows_both_refusals_of_a_mail_sent_on_the_third_attempt(
    app, client, auth, make_user, smtp_server
):
    admin = make_user("admin", email="boss@example.com")
    smtp_server.refuse(2)
    with app.app_context():
        mail_id = _queue()
    auth.login(admin.email)
    assert "retrying" in client.get("/admin/outbox/").get_data(as_text=True)

    for _ in range(2):  # the minute sweep, once each retry is due
        with app.app_context():
            outbox.sweep_outbox(now=db.session.get(OutboxMail, mail_id).next_attempt_at)
    assert len(smtp_server.messages) == 1 and smtp_server.inbox.refused == 2

    listing = client.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert "sent after 3 attempts" in listing and "iris@example.com" in listing
    detail = client.get(f"/admin/outbox/{mail_id}").get_data(as_text=True)
    assert detail.count("failed: ") == 2 and detail.count("answered 451: 4.3.0 Try again later") == 2
    assert TOKEN not in detail
