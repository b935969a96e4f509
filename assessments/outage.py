"""A database briefly out of reach: which errors mean it, and how workers ride it out.

A restart, a failover or a dropped connection shows up as one of `DATABASE_UNAVAILABLE`; so does
SQLite's write lock held longer than the busy timeout. A page turns it into a 503 that tells the
person to try again (security.py); a grading worker retries its short writes with backoff, since
it has nothing else to do until the database answers, and gives up after about a minute (the
lease and the sweep then take over).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from assessments.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")

# PendingRollbackError: the session is used again after its connection died mid-transaction.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    PendingRollbackError,
)

# About a minute in all: longer than a restart or a failover, shorter than a grading lease.
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)


def retry_while_unavailable(write: Callable[[], T], what: str, delays: Iterable[float] | None = None) -> T:
    """Run a short transaction, retrying it while the database is unreachable.

    `write` must be safe to run again after a failure (its transaction is rolled back first).

    :raises OperationalError: (or another of DATABASE_UNAVAILABLE) when it still fails after the last delay.
    """
    for delay in RETRY_DELAYS if delays is None else delays:
        try:
            return write()
        except DATABASE_UNAVAILABLE as error:
            db.session.rollback()
            log.warning("%s: database unavailable (%s); retrying in %g s", what, type(error).__name__, delay)
            time.sleep(delay)
    return write()


def close_session(exc: BaseException | None = None) -> None:
    """End the request's (or task's) session, even when its connection died after the work was done.

    Installed as a teardown that runs before Flask-SQLAlchemy's own: closing a session rolls its
    transaction back, and on a connection the server has just terminated that ROLLBACK fails, which
    would turn a finished response into a 500. Such a connection holds nothing to roll back: it is
    invalidated (never returned to the pool) and the session dropped.
    """
    try:
        db.session.remove()
    except DATABASE_UNAVAILABLE as error:
        log.warning("database connection lost at the end of the work (%s); discarded", type(error).__name__)
        db.session().invalidate()
        db.session.registry.clear()
