"""The worker loop: claim a batch, attempt it with a bounded pool, record, repeat."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from switchboard import clock
from switchboard.config import Settings
from switchboard.worker import attempt, store
from switchboard.worker.send import make_pool
from switchboard.worker.wakeup import Wakeup

log = logging.getLogger("switchboard.worker")


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, concurrency: int = 16,
                 batch_size: int | None = None, lease_seconds: float | None = None,
                 poll_interval: float = 0.2, worker_id: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.concurrency = concurrency
        self.batch_size = batch_size or concurrency * 4
        # A lease must outlast a whole batch of attempts, each bounded by the timeout.
        self.lease = timedelta(seconds=lease_seconds or settings.delivery_timeout * 4 + 30)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.pool = make_pool(concurrency)
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="delivery")
        self.wakeup = Wakeup(engine, poll_interval)
        self.stopping = threading.Event()

    def run_once(self) -> int:
        """Claim and attempt one batch; return how many deliveries it held."""
        now = clock.now()
        with self.engine.begin() as conn:
            rows = store.claim(conn, self.id, now, self.batch_size, self.lease)
        if not rows:
            return 0
        outcomes = list(self.executor.map(
            lambda row: attempt.run(row, self.pool, self.settings, clock.now()), rows))
        with self.engine.begin() as conn:
            store.record(conn, self.id, outcomes, clock.now(), self.settings.disable_after)
        return len(rows)

    def run_forever(self, idle_wait: float = 5.0) -> None:
        log.info("worker %s started", self.id)
        while not self.stopping.is_set():
            try:
                handled = self.run_once()
            except DBAPIError as exc:
                # The database may be restarting: back off, keep the process, resume.
                log.error("worker database error: %s", type(exc.orig).__name__)
                self.stopping.wait(1.0)
                continue
            if handled == 0 and not self.stopping.is_set():
                self.wakeup.wait(idle_wait)
        log.info("worker %s stopped", self.id)

    def stop(self, *_: object) -> None:
        """Finish the batch in hand (each attempt is bounded by the timeout), then exit."""
        self.stopping.set()
        self.wakeup.stop()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.wakeup.close()
        self.pool.clear()
