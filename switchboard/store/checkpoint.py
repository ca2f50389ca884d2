"""SQLite WAL checkpoints off the request path.

By default SQLite checkpoints inside whichever commit pushes the write-ahead log past 1,000
pages: that commit copies the log back into the database and waits for its fsyncs. On the
ingest path, one callback in ~70 paid that, which averaged out to more than half of the
commit's time (bench/NOTES.md has the figures). Instead, one thread per process runs a
PASSIVE checkpoint (it never blocks a reader or the writer) every INTERVAL seconds, and
`wal_autocheckpoint` stays on at a higher mark, so the log stays bounded even if those
threads are stopped.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref

from sqlalchemy import Engine

log = logging.getLogger(__name__)

INTERVAL = 0.5
# Pages after which a commit checkpoints by itself (SQLite's default is 1,000): a backstop
# that a running checkpointer keeps the log well below.
AUTOCHECKPOINT_PAGES = 16000

_running: dict[tuple[int, str], threading.Thread] = {}
_lock = threading.Lock()


def ensure_checkpointer(engine: Engine, path: str) -> None:
    """One checkpoint thread per process and database file (started after a fork too), for
    as long as the engine lives."""
    key = (os.getpid(), os.path.abspath(path))
    with _lock:
        thread = _running.get(key)
        if thread is not None and thread.is_alive():
            return
        thread = threading.Thread(target=_checkpoint_loop, args=(key, weakref.ref(engine)),
                                  name="sqlite-checkpoint", daemon=True)
        _running[key] = thread
    thread.start()


def _checkpoint_loop(key: tuple[int, str], engine_ref: weakref.ref[Engine]) -> None:
    path = key[1]
    stop = threading.Event()
    try:
        while _running.get(key) is threading.current_thread():
            engine = engine_ref()
            if engine is None or not os.path.exists(path):
                return  # nobody here writes to it any more
            if _connected(engine):
                _checkpoint(path)
            del engine
            stop.wait(INTERVAL)
    finally:
        with _lock:
            if _running.get(key) is threading.current_thread():
                del _running[key]


def _connected(engine: Engine) -> bool:
    """Whether the engine holds connections: once its pool is disposed, the last one to
    close checkpoints and removes the log, as SQLite does, and a copy of the file is whole."""
    pool = engine.pool  # a QueuePool: SQLAlchemy's for a file database
    return pool.checkedin() + pool.checkedout() > 0


def _checkpoint(path: str) -> None:
    # A connection per checkpoint, not one kept open: it would outlive the engine's own
    # connections and keep the log from being folded in when they close.
    try:
        connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, isolation_level=None,
                                     timeout=0)
    except sqlite3.Error:
        return
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        # Busy or locked: another process is checkpointing, or the next try will do.
        log.debug("checkpoint skipped: %s", exc)
    finally:
        connection.close()
