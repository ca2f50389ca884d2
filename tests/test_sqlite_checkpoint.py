"""SQLite checkpoints run on a thread of their own, not inside a callback's commit."""

from __future__ import annotations

import gc
import sqlite3
import threading
import time

from sqlalchemy import text

from switchboard.store import checkpoint
from switchboard.store.db import make_engine


def _checkpointers(path) -> list[threading.Thread]:
    return [t for (_pid, p), t in list(checkpoint._running.items()) if p == str(path)]


def _rows_in_database_file(path) -> int:
    # immutable=1 reads the database file alone, ignoring the write-ahead log: a row is
    # there only once a checkpoint copied it back.
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    except sqlite3.OperationalError:  # not even the table is back yet
        return 0
    finally:
        conn.close()


def test_commits_leave_checkpoints_to_the_thread(tmp_path):
    path = tmp_path / "sb.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == \
                checkpoint.AUTOCHECKPOINT_PAGES
            conn.execute(text("CREATE TABLE t (x TEXT)"))
        assert len(_checkpointers(path)) == 1
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "a" * 500}] * 200)
        deadline = time.monotonic() + 10
        while _rows_in_database_file(path) != 200:
            assert time.monotonic() < deadline, "no checkpoint copied the rows back"
            time.sleep(checkpoint.INTERVAL / 5)
    finally:
        engine.dispose()


def test_one_thread_per_database_and_it_ends_with_its_engine(tmp_path):
    path = tmp_path / "sb.db"
    engine = make_engine(f"sqlite:///{path}")
    for _ in range(3):  # new connections: still one thread
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    [thread] = _checkpointers(path)
    del engine, conn
    deadline = time.monotonic() + 10
    while thread.is_alive():
        # The engine sits in reference cycles (its event listeners): only gc frees it, and
        # not while the thread holds it for a moment to look at its pool.
        assert time.monotonic() < deadline, "the thread outlived its engine"
        gc.collect()
        thread.join(checkpoint.INTERVAL * 2)
    assert _checkpointers(path) == []


def test_disposing_the_engine_folds_the_log_in_as_sqlite_does(tmp_path):
    # The test suite copies a migrated template file right after dispose(): the copy must
    # hold the schema, so no checkpoint connection may outlive the engine's own.
    path = tmp_path / "sb.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
        conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "a"}] * 10)
    engine.dispose()
    # At most one checkpoint in flight (milliseconds) may still hold the file, never a
    # connection kept between checkpoints.
    deadline = time.monotonic() + 0.1
    while _rows_in_database_file(path) != 10:
        assert time.monotonic() < deadline, "the log was not folded in on dispose"
        time.sleep(0.005)
    assert not (tmp_path / "sb.db-wal").exists()
