"""The engine: one per process, tuned per dialect."""

from __future__ import annotations

import sqlite3
import time
from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from switchboard.store import checkpoint

SQLITE_BUSY_TIMEOUT_MS = 5000
# The hot path's wait for SQLite's write lock: first retry after 0.1 ms, growing to 1 ms.
WRITE_LOCK_FIRST_PAUSE = 0.0001
WRITE_LOCK_MAX_PAUSE = 0.001
# Set in a pooled connection's info while its busy handler is off (see _begin_writing).
_BUSY_HANDLER_OFF = "switchboard_busy_handler_off"
# "The database failed": a driver error (raised as SQLAlchemy's DBAPIError, by
# RawTransaction too) or no pooled connection free in time. A request answers 503, /readyz
# not ready, /metrics the database down; the worker backs off and resumes.
DATABASE_ERRORS = (DBAPIError, PoolTimeout)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    # No pool_pre_ping: a round trip per request for a rare event. A dead connection fails
    # its request with a 503 (the provider retries) and invalidates the pool, so the next
    # request gets a fresh one (tests/test_faults.py).
    return create_engine(url, pool_size=10, max_overflow=20,
                         pool_timeout=10)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_timeout=10,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's own
        # handling skips BEGIN before SELECT), so a transaction means one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers and one writer work at once across gunicorn workers;
        # NORMAL is durable across process crashes, which is what a webhook needs.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if database and database != ":memory:":
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoint.AUTOCHECKPOINT_PAGES}")
            checkpoint.ensure_checkpointer(engine, database)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        if connection.connection.info.pop(_BUSY_HANDLER_OFF, False):
            # Left off by the hot path (see _begin_writing): SQLAlchemy's statements wait.
            connection.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        connection.exec_driver_sql("BEGIN")

    return engine


def _begin_writing(driver: sqlite3.Connection, info: dict) -> None:
    """BEGIN IMMEDIATE, retried in short steps for up to the busy timeout.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20... ms between tries, while a
    callback holds the write lock for well under a millisecond; when the holder is
    descheduled for a moment (two web workers and the load on two cores), the waiter oversleeps
    it; trying every 0.1-1 ms instead shortens the tail of the wait for the lock
    (bench/NOTES.md has the figures). Every hot-path transaction writes, so
    taking the lock at BEGIN holds it no longer than the first INSERT would. Past the
    budget: SQLite's own "database is locked" error (503).

    SQLite's handler stays off on this connection afterwards (`info` is the pool's record of
    it): inside a transaction that holds the write lock nothing waits for another, and
    turning it off and on again cost two statements a callback. The next SQLAlchemy
    transaction on the connection turns it back on (the engine's "begin" listener).
    """
    if not info.get(_BUSY_HANDLER_OFF):
        driver.execute("PRAGMA busy_timeout=0")
        info[_BUSY_HANDLER_OFF] = True
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = WRITE_LOCK_FIRST_PAUSE
    while True:
        try:
            driver.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY \
                    or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 1.5, WRITE_LOCK_MAX_PAUSE)


def is_server(engine: Engine) -> bool:
    """A database server (PostgreSQL), where deployments run, rather than a SQLite file."""
    return engine.dialect.name == "postgresql"


class RawTransaction:
    """One transaction on the pool's DBAPI connection, for the ingest hot path.

    SQLAlchemy's execute costs more than the driver's on a short insert
    (shared/PERFORMANCE.md), so the hot path runs SQL rendered once per dialect straight on
    the driver. What a Connection would otherwise do is kept: a driver error is raised as
    SQLAlchemy's DBAPIError (so the answer is 503), and a disconnect invalidates the pool.
    """

    __slots__ = ("engine", "proxied", "driver", "postgresql", "_rollback", "_begin_pending",
                 "_ended")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self._rollback = False
        self._begin_pending = False
        self._ended = False
        self.proxied = None
        self.driver = None

    def execute(self, sql: str, params=()):
        """Run one statement; returns the driver's cursor (psycopg and sqlite3 alike)."""
        if self._begin_pending:
            # Queued with the first statement, in the same round trip inside a pipeline.
            self._begin_pending = False
            self.driver.execute("BEGIN")
        return self.driver.execute(sql, params)

    def pipeline(self):
        """On PostgreSQL, psycopg's pipeline mode: statements are queued, not sent one by
        one. Reading a result (fetchone) sends what is queued and waits for its answer, one
        round trip; leaving the block sends the rest. Elsewhere a no-op."""
        return self.driver.pipeline() if self.postgresql else nullcontext()

    def end(self, commit: bool) -> None:
        """Commit or roll back: the last call inside the block. On PostgreSQL the COMMIT or
        ROLLBACK is a statement queued behind the others: inside a pipeline it goes out
        with the last writes and its answer comes with theirs, when the pipeline is left
        (an error in any of them leaves the transaction uncommitted, and leaving the block
        raises it). Elsewhere it happens on leaving the block. Without end(), leaving the
        block commits."""
        if self.postgresql:
            self.execute("COMMIT" if commit else "ROLLBACK")
            self._ended = True
        else:
            self._rollback = not commit

    def __enter__(self) -> RawTransaction:
        try:
            self.proxied = self.engine.raw_connection()
            self.driver = self.proxied.driver_connection
            if self.postgresql:
                # psycopg begins a transaction by itself with a BEGIN, and in pipeline mode
                # waits for its answer (a Sync) before sending the next statement: a round
                # trip of its own. In autocommit mode it leaves that to us, so BEGIN goes
                # out with the first statement (execute); __exit__ turns autocommit off
                # again before the pool gets the connection back.
                self.driver.autocommit = True
                self._begin_pending = True
            else:
                # The connection is in autocommit mode (see _pragmas): begin explicitly.
                _begin_writing(self.driver, self.proxied.info)
        except BaseException as exc:
            self._raise(exc)
        return self

    def __exit__(self, exc_type, exc, _tb) -> None:
        if exc is not None:
            translated = self._release(exc)
            if translated is not None:
                raise translated from exc
            return
        try:
            if self._ended:
                pass  # its COMMIT or ROLLBACK has been sent and answered
            elif self._rollback:
                self.driver.rollback()
            else:
                self.driver.commit()
            self._driver_default()
        except BaseException as failure:
            self._raise(failure)
        self.proxied.close()

    def _driver_default(self) -> None:
        """Give the pool the connection as SQLAlchemy expects it: psycopg beginning its own
        transactions (a transaction outside autocommit cannot be left open here: commit
        and rollback end one, and a psycopg connection refuses the change inside one)."""
        if self.postgresql and self.driver.autocommit:
            self.driver.autocommit = False

    def _raise(self, exc: BaseException):
        translated = self._release(exc)
        if translated is not None:
            raise translated from exc
        raise exc

    def _release(self, exc: BaseException) -> BaseException | None:
        """Give the connection back after a failure (invalidating the pool on a
        disconnect, as Connection does); a driver error comes back as DBAPIError."""
        dialect = self.engine.dialect
        dbapi_error = dialect.loaded_dbapi.Error
        is_dbapi = isinstance(exc, dbapi_error)
        disconnect = is_dbapi and self.driver is not None and \
            dialect.is_disconnect(exc, self.driver, None)
        proxied, self.proxied = self.proxied, None
        if proxied is not None:
            try:
                if disconnect:
                    # This connection and every other one in the pool are replaced (a
                    # database that dropped one has dropped them all), so the next request
                    # gets a live one: what Connection does, through the public API.
                    proxied.invalidate(exc)
                    self.engine.dispose()
                elif self.driver is not None:
                    self.driver.rollback()
                    self._driver_default()
            except Exception:  # the connection is beyond use: drop it
                proxied.invalidate()
            finally:
                proxied.close()
        if not is_dbapi:
            return None
        return DBAPIError.instance(None, None, exc, dbapi_error,
                                   connection_invalidated=disconnect, dialect=dialect)
