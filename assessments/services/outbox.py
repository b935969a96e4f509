"""The outbox: a mail is rendered and recorded in its use case's transaction, then a worker sends it.

A use case calls `queue_mail(...)` before it commits; when that transaction commits, its mails are
handed to the queue (an after-commit hook, so a page never waits for a mail server), and a worker's
`deliver_mail` sends each one through `mail.transport_for(MAIL_URL)`. A failed attempt is recorded
with its error, and the minute sweep tries again after a growing delay, up to `MAIL_MAX_ATTEMPTS`;
then the mail is marked failed and an admin can retry it from the outbox page. As with grade runs,
the table, not the queue, is the truth: a task the queue lost is found by the sweep, claiming a mail
is one atomic UPDATE, and a mail is sent at least once.

Links in a mail carry secrets (an invitation's or a set-password token): the stored parts keep them
only until the mail is sent, and the log never sees them (`logs.redact_path`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_request_context, render_template, url_for
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import and_, event, func, or_, select, update
from sqlalchemy.orm import Session

from assessments import queue
from assessments.errors import InvalidInput, NotFound
from assessments.extensions import db
from assessments.logs import redact_path
from assessments.mail import Mail, MailError, MailSettingsError, sender_for, transport_for
from assessments.models import MailStatus, OutboxMail, User
from assessments.models.types import utcnow
from assessments.services.audit import record_event

log = logging.getLogger(__name__)

# Delay before the next attempt after the 1st, 2nd, 3rd and later failures.
RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
# A worker that claimed a mail and stopped answering for this long has died: the sweep takes it back.
SEND_LEASE = timedelta(minutes=5)
_PENDING = "assessments.outbox_pending"
_HISTORY_KEPT = 50


def mail_configured() -> bool:
    """True when MAIL_URL names a mail server (else mails only reach the log and the outbox page)."""
    return bool(current_app.config.get("MAIL_URL"))


def absolute_url(endpoint: str, **values: Any) -> str:
    """A full link for a mail: this request's host, or BASE_URL when there is no request (a worker)."""
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def queue_mail(to: str, subject: str, template: str, *, about: str | None = None, **context: Any) -> OutboxMail:
    """Render `templates/mail/<template>.txt` and `.html` with `context` and add the mail to the
    caller's transaction; it is sent once that transaction commits (nothing is sent if it rolls back).
    `about` names what the mail concerns ("invitation:12"), for finding it later.
    """
    (mail,) = add_mails([render_mail(to, subject, template, about=about, **context)])
    return mail


def render_mail(to: str, subject: str, template: str, *, about: str | None = None, **context: Any) -> OutboxMail:
    """A mail rendered as `queue_mail` renders it, not yet in any transaction (`add_mails` adds it).

    For a use case that renders its mails before its first write, so that the write transaction
    (on SQLite, the file's one write lock) is held for the inserts only.
    """
    return OutboxMail(
        to_address=to,
        subject=subject,
        text_body=render_template(f"mail/{template}.txt", **context),
        html_body=render_template(f"mail/{template}.html", subject=subject, **context),
        template=template,
        about=about,
        status=MailStatus.QUEUED,
        attempts=0,
        history=[],
    )


def add_mails(mails: list[OutboxMail]) -> list[OutboxMail]:
    """Add rendered mails to the caller's transaction (one flush); each is sent once it commits."""
    db.session.add_all(mails)
    db.session.flush()
    db.session.info.setdefault(_PENDING, []).extend(mail.id for mail in mails)
    return mails


def _enqueue_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if not ids:
        return
    for mail_id in ids:
        try:
            queue.mail_queue().enqueue(mail_id)
        # The page must not fail because the queue did not answer: the row is committed, and the
        # sweep sends it within a minute.
        except Exception:
            log.warning("mail %s not handed to the queue; the sweep will send it", mail_id, exc_info=True)


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def claim_mail(mail_id: int, now: datetime | None = None) -> bool:
    """Atomically take a waiting mail, or one whose sender's lease expired; False if taken."""
    now = now or utcnow()
    result = db.session.execute(
        update(OutboxMail)
        .where(
            OutboxMail.id == mail_id,
            or_(
                OutboxMail.status == MailStatus.QUEUED,
                and_(OutboxMail.status == MailStatus.SENDING, OutboxMail.claimed_until < now),
            ),
        )
        .values(
            status=MailStatus.SENDING,
            attempts=OutboxMail.attempts + 1,
            last_attempt_at=now,
            claimed_until=now + SEND_LEASE,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def deliver_mail(mail_id: int, now: datetime | None = None) -> MailStatus | None:
    """Send one outbox mail (the worker's task): claim it, send it, record the outcome.

    Returns the mail's new status, or None when another worker has it or it needs nothing.
    """
    if not claim_mail(mail_id, now):
        return None
    mail = db.session.get(OutboxMail, mail_id)
    assert mail is not None
    config = current_app.config
    try:
        transport = transport_for(config.get("MAIL_URL"))
        message = Mail(
            sender=sender_for(config.get("MAIL_URL"), config["MAIL_FROM"]),
            to=mail.to_address,
            subject=mail.subject,
            text=mail.text_body,
            html=mail.html_body,
        )
    except MailSettingsError as error:
        return _record_failure(mail, f"MAIL_URL cannot be used: {error}", now)
    # No transaction is held open while the mail server answers.
    db.session.commit()
    try:
        transport.send(message)
    except MailError as error:
        return _record_failure(mail, str(error), now)
    mail.status = MailStatus.SENT
    mail.sent_at = utcnow()
    mail.transport = transport.name
    mail.claimed_until = None
    # The secret in a link is needed only until the mail has left.
    mail.text_body = redact_path(mail.text_body)
    mail.html_body = redact_path(mail.html_body) if mail.html_body else None
    db.session.commit()
    log.info("mail %s sent (%s): %s", mail.id, transport.name, mail.template)
    return MailStatus.SENT


def _record_failure(mail: OutboxMail, error: str, now: datetime | None) -> MailStatus:
    now = now or utcnow()
    mail.history = [*mail.history[-(_HISTORY_KEPT - 1) :], {"at": now.isoformat(), "error": error}]
    mail.claimed_until = None
    if mail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        mail.status = MailStatus.FAILED
        mail.next_attempt_at = None
    else:
        mail.status = MailStatus.QUEUED
        mail.next_attempt_at = now + RETRY_DELAYS[min(mail.attempts, len(RETRY_DELAYS)) - 1]
    db.session.commit()
    log.warning("mail %s attempt %s failed (%s): %s", mail.id, mail.attempts, mail.status, error)
    return MailStatus(mail.status)


def sweep_outbox(now: datetime | None = None) -> list[int]:
    """Hand the queue every mail that is due: retries whose delay has passed, mails the queue lost,
    and mails whose worker died while sending (given up once out of attempts). Returns their ids.
    """
    now = now or utcnow()
    due = list(
        db.session.scalars(
            select(OutboxMail).where(
                or_(
                    and_(
                        OutboxMail.status == MailStatus.QUEUED,
                        or_(OutboxMail.next_attempt_at.is_(None), OutboxMail.next_attempt_at <= now),
                    ),
                    and_(OutboxMail.status == MailStatus.SENDING, OutboxMail.claimed_until < now),
                )
            )
        )
    )
    ids = []
    for mail in due:
        if mail.status == MailStatus.SENDING and mail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
            mail.status = MailStatus.FAILED
            mail.claimed_until = None
            mail.history = [*mail.history, {"at": now.isoformat(), "error": "the worker stopped while sending"}]
        else:
            ids.append(mail.id)
    db.session.commit()
    for mail_id in ids:
        queue.mail_queue().enqueue(mail_id)
    return ids


def list_mails(page: int = 1, per_page: int = 50, status: str | None = None) -> Pagination:
    """The outbox, newest first, one page at a time, optionally of one status."""
    query = select(OutboxMail).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())
    if status:
        query = query.where(OutboxMail.status == status)
    return db.paginate(query, page=page, per_page=per_page, error_out=False)


def count_by_status() -> dict[str, int]:
    """How many mails are in each status (every status present, zero when none)."""
    counts = dict(db.session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)).all())
    return {status: counts.get(status, 0) for status in MailStatus}


def mails_about(about: str) -> list[OutboxMail]:
    """The mails about one thing ("user:3"), newest first."""
    query = select(OutboxMail).where(OutboxMail.about == about)
    return list(db.session.scalars(query.order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())))


def shown_parts(mail: OutboxMail) -> tuple[str, str | None]:
    """The mail's text and HTML with every link's secret removed, for showing to staff."""
    return redact_path(mail.text_body), redact_path(mail.html_body) if mail.html_body else None


def get_mail(mail_id: int) -> OutboxMail:
    """One outbox mail.

    :raises NotFound: when there is no such mail.
    """
    mail = db.session.get(OutboxMail, mail_id)
    if mail is None:
        raise NotFound("There is no such mail in the outbox.")
    return mail


def retry_mail(mail: OutboxMail, actor: User) -> None:
    """Try a failed (or waiting) mail again now, with a fresh set of attempts.

    :raises InvalidInput: when the mail was already sent or is being sent.
    """
    if mail.status not in (MailStatus.FAILED, MailStatus.QUEUED):
        raise InvalidInput("This mail was already sent, or is being sent right now.")
    mail.status = MailStatus.QUEUED
    mail.attempts = 0
    mail.next_attempt_at = None
    mail.history = [*mail.history, {"at": utcnow().isoformat(), "retried_by": actor.email}]
    record_event(actor, "mail.retried", "outbox_mail", mail.id, to=mail.to_address)
    db.session.info.setdefault(_PENDING, []).append(mail.id)
    db.session.commit()


def init_app(app: Flask) -> None:
    """Make the queue's mail tasks send and sweep this outbox."""
    queue.set_mail_handlers(app, queue.MailHandlers(deliver=deliver_mail, sweep=sweep_outbox))


# Class-level, once per process: every session hands its committed mails to the queue.
event.listen(Session, "after_commit", _enqueue_after_commit)
event.listen(Session, "after_rollback", _forget_after_rollback)
