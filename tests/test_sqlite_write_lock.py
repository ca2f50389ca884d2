"""The hot path takes SQLite's write lock with BEGIN IMMEDIATE, tried again in short steps
for the connection's busy timeout; SQLite's own busy handler is back in place after."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from switchboard.models import db as db_module
from switchboard.models.db import RawTransaction, make_engine

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
                # The lock is ours from BEGIN on; SQLite's handler is back for the rest.
                assert tx.execute("PRAGMA busy_timeout").fetchone()[0] == \
                    db_module.SQLITE_BUSY_TIMEOUT_MS
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
