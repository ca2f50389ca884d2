"""The hot path takes SQLite's write lock with BEGIN IMMEDIATE, tried again in short steps
for the connection's busy timeout; SQLite's own busy handler is back in place for the next
SQLAlchemy transaction on that connection."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard.store import db as db_module
from switchboard.store.db import RawTransaction, make_engine

HOLD_WRITE_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO t VALUES ('holder')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def make(path):
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    return engine


def hold(path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, str(path), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def stored(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT x FROM t")).scalars())


def test_a_callback_waits_for_the_write_lock_then_writes(tmp_path, monkeypatch):
    tries = []
    real_sleep = time.sleep
    here = threading.get_ident()

    def sleep(seconds):
        if threading.get_ident() == here:  # not another thread's
            tries.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    path = tmp_path / "lock.db"
    engine = make(path)
    try:
        holder = hold(path, 0.3)
        try:
            with RawTransaction(engine) as tx:
                waits = list(tries)  # before holder.wait() sleeps too
                assert tx.driver.in_transaction
                # The lock is ours from BEGIN on: nothing inside waits, SQLite's handler is
                # left off.
                assert tx.execute("PRAGMA busy_timeout").fetchone()[0] == 0
                tx.execute("INSERT INTO t VALUES ('ours')")
        finally:
            assert holder.wait(timeout=10) == 0
        assert stored(engine) == ["holder", "ours"]
        # Waited in short steps, growing to the cap, not in SQLite's 1, 2, 5, 10... ms.
        assert waits[0] == db_module.WRITE_LOCK_FIRST_PAUSE
        assert max(waits) == db_module.WRITE_LOCK_MAX_PAUSE
        assert waits == sorted(waits)
    finally:
        engine.dispose()


def test_past_the_busy_timeout_it_is_sqlites_locked_error(tmp_path, monkeypatch):
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "lock.db"
    engine = make(path)
    try:
        holder = hold(path, 2)
        try:
            with pytest.raises(DBAPIError) as raised, RawTransaction(engine) as tx:
                tx.execute("INSERT INTO t VALUES ('ours')")
            assert isinstance(raised.value.orig, sqlite3.OperationalError)
            assert "database is locked" in str(raised.value.orig)
        finally:
            assert holder.wait(timeout=10) == 0
        # The connection went back to the pool with SQLite's handler restored.
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 200
        assert stored(engine) == ["holder"]
    finally:
        engine.dispose()


def test_sqlalchemy_transactions_on_the_same_connection_wait_as_before(tmp_path):
    path = tmp_path / "lock.db"
    engine = make(path)
    engine.pool.dispose()  # one connection from here on, shared in turn
    try:
        with RawTransaction(engine) as tx:
            tx.execute("INSERT INTO t VALUES ('hot')")
            hot_path_connection = tx.driver
        with engine.begin() as conn:
            assert conn.connection.driver_connection is hot_path_connection
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == \
                db_module.SQLITE_BUSY_TIMEOUT_MS
            # ...so a write waits for another process's lock instead of failing at once.
            holder = hold(path, 0.3)
            try:
                conn.execute(text("INSERT INTO t VALUES ('waited')"))
            finally:
                assert holder.wait(timeout=10) == 0
        # And the hot path, back on the connection, turns the handler off again.
        with RawTransaction(engine) as tx:
            assert tx.driver is hot_path_connection
            assert tx.execute("PRAGMA busy_timeout").fetchone()[0] == 0
            tx.execute("INSERT INTO t VALUES ('hot again')")
        assert stored(engine) == ["holder", "hot", "hot again", "waited"]
    finally:
        engine.dispose()
