"""One writer at a time on a SQLite file, woken as soon as the writer before it has finished.

SQLite lets one connection write at a time. A connection that finds the file locked waits in its
busy handler, which sleeps and retries (1, 2, 5, 10 ... then 100 ms between tries) until the
busy timeout: a waiter sleeps on after the lock is free, and under a steady stream of writers an
unlucky one loses every retry. At a deadline (200 uploads in a minute, the grading worker writing
results, first openings of links) that is the tail of every page that writes: in one run of
bench/sqlite_writers.py (four processes of four threads, on a machine busy with the test suite), a
short write transaction took p95 336 ms, p99 1139 ms, at worst 2.75 s; taking turns as below, 77,
125 and 202 ms, with 2.3 times as many transactions done.

Writers of a file therefore take a turn first: a lock for the threads of this process, then an
exclusive flock on `<file>.lock` for the processes, waited on by polling every half millisecond. A
connection takes the turn before the first statement that may write (anything but SELECT,
PRAGMA, EXPLAIN) and gives it back as soon as it is no longer in a transaction: after COMMIT,
ROLLBACK, a statement that committed by itself, or closing. Reads never take it (in WAL mode they
do not wait for writers). A writer that does not take turns (another program, the sqlite3 shell)
still meets SQLite's own lock and busy timeout, as before.

`TurnTakingConnection` is the `sqlite3` connection class that does this, given to SQLAlchemy as
`connect_args={"factory": ...}` (config.engine_options); the rate limiter's counter file takes the
same turns (rate_limits.SqliteStorage).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from time import monotonic, sleep
from typing import Any

# Statements that never write: they run without a turn.
_READS = ("SELECT", "PRAGMA", "EXPLAIN")


class WriterTurn:
    """The writers' turn on one database file: a thread lock, then an flock on `<path>.lock`."""

    _registry: dict[str, WriterTurn] = {}
    _registry_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._lock_file: tuple[int, int] | None = None  # (pid, fd): each process opens its own

    @classmethod
    def for_path(cls, path: str) -> WriterTurn:
        """The one turn of this process for the file at `path`."""
        key = os.path.realpath(path)
        with cls._registry_lock:
            turn = cls._registry.get(key)
            if turn is None:
                turn = cls._registry[key] = cls(key)
            return turn

    @classmethod
    def _forget_after_fork(cls) -> None:
        # A child must not inherit a thread lock held by a thread it does not have, nor share its
        # parent's lock file description (an flock held by one would be held by both).
        cls._registry = {}
        cls._registry_lock = threading.Lock()

    def _fd(self) -> int:
        pid = os.getpid()
        if self._lock_file is None or self._lock_file[0] != pid:
            self._lock_file = (pid, os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        return self._lock_file[1]

    def acquire(self, timeout: float) -> None:
        """Wait for the turn; after `timeout` seconds raise sqlite3's own "database is locked"."""
        give_up = monotonic() + timeout
        if not self._threads.acquire(timeout=max(0.0, timeout)):
            raise sqlite3.OperationalError("database is locked")
        try:
            fd = self._fd()
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if monotonic() > give_up:
                        raise sqlite3.OperationalError("database is locked") from None
                    sleep(0.0005)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    @contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        self.acquire(timeout)
        try:
            yield
        finally:
            self.release()


os.register_at_fork(after_in_child=WriterTurn._forget_after_fork)


def _may_write(sql: str) -> bool:
    return not sql.lstrip().upper().startswith(_READS)


def _file_path(database: Any) -> str | None:
    """The file a connection opens, or None for an in-memory database or a URI."""
    name = os.fsdecode(database) if isinstance(database, str | bytes | os.PathLike) else ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return name


class TurnTakingCursor(sqlite3.Cursor):
    """A cursor whose statements take the connection's writers' turn when they may write."""

    def execute(self, sql: str, parameters: Any = (), /) -> TurnTakingCursor:
        connection: TurnTakingConnection = self.connection  # type: ignore[assignment]
        connection._before(sql)
        try:
            return super().execute(sql, parameters)
        finally:
            connection._after()

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> TurnTakingCursor:
        connection: TurnTakingConnection = self.connection  # type: ignore[assignment]
        connection._before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)
        finally:
            connection._after()

    def executescript(self, sql_script: str, /) -> TurnTakingCursor:
        connection: TurnTakingConnection = self.connection  # type: ignore[assignment]
        connection._before("SCRIPT")
        try:
            return super().executescript(sql_script)
        finally:
            connection._after()


class TurnTakingConnection(sqlite3.Connection):
    """A sqlite3 connection that takes the file's writers' turn (see the module's docstring)."""

    def __init__(self, database: Any, timeout: float = 5.0, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, timeout, *args, **kwargs)
        path = _file_path(database)
        self._turn = WriterTurn.for_path(path) if path else None
        self._turn_timeout = float(timeout)
        self._holding = False

    def _before(self, sql: str) -> None:
        if self._turn is not None and not self._holding and _may_write(sql):
            self._turn.acquire(self._turn_timeout)
            self._holding = True

    def _after(self) -> None:
        if self._holding and not self.in_transaction:
            self._give_back()

    def _give_back(self) -> None:
        if self._holding:
            self._holding = False
            assert self._turn is not None
            self._turn.release()

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or TurnTakingCursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        return self.cursor().executescript(sql_script)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._after()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._after()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._give_back()
