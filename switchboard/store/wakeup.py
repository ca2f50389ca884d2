"""How an idle worker learns there is new work: LISTEN/NOTIFY on PostgreSQL, a short poll on
SQLite. A missed wake-up only costs the poll interval; correctness never depends on it."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Connection, Engine, text

from switchboard.store.statements import NOTIFY_CHANNEL

log = logging.getLogger("switchboard.worker")
# pg_notify inside the transaction is delivered at commit, so a worker never wakes for a
# row it cannot see yet.
NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")


def wake_workers(conn: Connection) -> None:
    """Wake idle workers when this transaction commits (SQLite's poll; nothing to send)."""
    if conn.dialect.name == "postgresql":
        conn.execute(NOTIFY)


class Wakeup:
    def __init__(self, engine: Engine, poll_interval: float) -> None:
        self.poll_interval = poll_interval
        self._stop = threading.Event()
        self._dsn = None
        self._conn = None
        if engine.dialect.name == "postgresql":
            url = engine.url.set(drivername="postgresql")
            self._dsn = url.render_as_string(hide_password=False)

    def listen(self) -> None:
        """LISTEN now, before the first claim: a notification sent between a claim that found
        nothing and the first wait() would otherwise be missed for a whole idle wait."""
        if self._dsn is None:
            return
        try:
            self._listen()
        except Exception as exc:  # noqa: BLE001 - wait() tries again, or polls
            log.warning("LISTEN unavailable (%s); polling", type(exc).__name__)
            self._close()

    def wait(self, timeout: float) -> None:
        """Return when new work may be there, after at most `timeout` seconds."""
        if self._dsn is None or self._stop.is_set():
            self._stop.wait(min(timeout, self.poll_interval))
            return
        deadline = time.monotonic() + timeout
        try:
            conn = self._listen()
            # In slices of a second, so that stop() is heard promptly even in a long wait.
            while not self._stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                for _ in conn.notifies(timeout=min(left, 1.0), stop_after=1):
                    return
        except Exception as exc:  # noqa: BLE001 - the database may be restarting
            log.warning("LISTEN unavailable (%s); polling", type(exc).__name__)
            self._close()
            self._stop.wait(min(timeout, self.poll_interval))

    def _listen(self):
        if self._conn is None or self._conn.closed:
            import psycopg

            self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return self._conn

    def stop(self) -> None:
        self._stop.set()

    def _close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass
            self._conn = None

    def close(self) -> None:
        self.stop()
        self._close()
