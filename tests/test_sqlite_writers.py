"""Writers of a SQLite file take turns (assessments/sqlite_writers.py): what a writer waits for, and
that every way out of a transaction gives the turn back."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

from assessments.sqlite_writers import TurnTakingConnection, WriterTurn


def _connect(path, timeout: float = 5.0) -> TurnTakingConnection:
    connection = sqlite3.connect(path, timeout=timeout, factory=TurnTakingConnection, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


@pytest.fixture
def path(tmp_path):
    database = tmp_path / "app.db"
    setup = _connect(database)
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    setup.close()
    return database


def _turn_is_free(path) -> bool:
    turn = WriterTurn.for_path(str(path))
    try:
        turn.acquire(timeout=0)
    except sqlite3.OperationalError:
        return False
    turn.release()
    return True


def test_a_writer_waits_for_the_turn_and_goes_on_as_soon_as_it_is_given_back(path):
    holder, waiter = _connect(path), _connect(path)
    holder.execute("INSERT INTO t (v) VALUES ('first')")  # holds the turn until it commits
    done = threading.Event()

    def write() -> None:
        waiter.execute("INSERT INTO t (v) VALUES ('second')")
        waiter.commit()
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    assert not done.wait(0.3)  # not a busy retry that slipped through: it waits for the turn
    assert holder.execute("SELECT count(*) FROM t").fetchone() == (1,)  # reading needs no turn
    holder.commit()
    assert done.wait(2)
    thread.join()
    assert [v for (v,) in holder.execute("SELECT v FROM t ORDER BY id")] == ["first", "second"]


def test_reads_never_take_the_turn(path):
    writer, reader = _connect(path), _connect(path)
    writer.execute("INSERT INTO t (v) VALUES ('x')")
    started = time.monotonic()
    assert reader.execute("SELECT count(*) FROM t").fetchone() == (0,)  # the snapshot before the write
    assert time.monotonic() - started < 1
    writer.rollback()


@pytest.mark.parametrize(
    "end",
    [
        lambda c: c.commit(),
        lambda c: c.rollback(),
        lambda c: c.close(),
        lambda c: c.execute("COMMIT"),
    ],
    ids=["commit", "rollback", "close", "sql-commit"],
)
def test_every_end_of_a_transaction_gives_the_turn_back(path, end):
    connection = _connect(path)
    connection.execute("UPDATE t SET v = 'y'")
    connection.execute("INSERT INTO t (v) VALUES ('z')")
    assert not _turn_is_free(path)
    end(connection)
    assert _turn_is_free(path)


def test_statements_outside_a_transaction_and_failed_ones_give_it_back(path):
    connection = _connect(path)
    connection.execute("CREATE INDEX t_v ON t (v)")  # DDL commits by itself
    assert _turn_is_free(path)
    with pytest.raises(sqlite3.OperationalError):
        connection.execute("INSERT INTO missing (v) VALUES (1)")
    assert _turn_is_free(path)
    connection.executemany("INSERT INTO t (v) VALUES (?)", [("a",), ("b",)])
    assert not _turn_is_free(path)
    connection.commit()
    assert _turn_is_free(path)


def test_a_writer_that_cannot_get_the_turn_in_time_gets_sqlites_own_error(path):
    holder, impatient = _connect(path), _connect(path, timeout=0.2)
    holder.execute("INSERT INTO t (v) VALUES ('held')")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        impatient.execute("INSERT INTO t (v) VALUES ('late')")
    holder.commit()
    impatient.execute("INSERT INTO t (v) VALUES ('now')")
    impatient.commit()
    assert _turn_is_free(path)


def _hammer(path: str, rows: int, errors) -> None:
    connection = _connect(path)
    for _ in range(rows):
        try:
            connection.execute("INSERT INTO t (v) VALUES (?)", (str(os.getpid()),))
            connection.execute("UPDATE t SET v = v WHERE id = last_insert_rowid()")
            connection.commit()
        except sqlite3.Error as error:
            errors.put(repr(error))
            connection.rollback()


def _process(path: str, errors) -> None:
    threads = [threading.Thread(target=_hammer, args=(path, 50, errors)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_processes_and_threads_writing_at_once_lose_nothing(path):
    # Forked after this process has used the file's turn: each child must take turns of its own.
    _connect(path).execute("INSERT INTO t (v) VALUES ('parent')").connection.commit()
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    processes = [context.Process(target=_process, args=(str(path), errors)) for _ in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    assert errors.empty()
    assert _connect(path).execute("SELECT count(*) FROM t").fetchone() == (1 + 3 * 4 * 50,)


def test_an_in_memory_database_takes_no_turn():
    connection = sqlite3.connect(":memory:", factory=TurnTakingConnection)
    connection.execute("CREATE TABLE t (v)")
    connection.execute("INSERT INTO t VALUES (1)")
    assert connection.execute("SELECT count(*) FROM t").fetchone() == (1,)
