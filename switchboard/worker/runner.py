"""The worker loop: claim a batch, attempt it with a bounded pool, record, repeat."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from switchboard import clock
from switchboard.config import Settings
from switchboard.observability.metrics import ATTEMPT_SECONDS, DELIVERIES
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
        """Claim and attempt one batch, and record it; return how many deliveries it held."""
        batch = self._send(self._claim())
        self._record(batch)
        return len(batch)

    def run_forever(self, idle_wait: float = 5.0) -> None:
        """Two batches in flight: while one is being sent, the previous one is recorded and
        the next claimed, so the database round trips do not stall the sending."""
        log.info("worker %s started", self.id)
        poller = self._start_phonify_poller()
        in_flight: list[tuple[str, Future]] = []
        while not self.stopping.is_set():
            claimed: list[tuple[str, Future]] = []
            try:
                claimed = self._send(self._claim())
                self._record(in_flight)
                in_flight = claimed
            except DBAPIError as exc:
                # The database may be restarting: keep every batch that was sent until it
                # is written down (else its lease runs out and it is sent twice), back
                # off, and resume without a restart.
                in_flight = in_flight + claimed
                log.error("worker database error: %s: %s", type(exc.orig).__name__,
                          str(exc.orig).splitlines()[0][:200])
                self.stopping.wait(1.0)
                continue
            if not in_flight and not self.stopping.is_set():
                self.wakeup.wait(idle_wait)
        self._record_until_done(in_flight)
        if poller is not None:
            poller.join(timeout=self.settings.delivery_timeout + 5)
        log.info("worker %s stopped", self.id)

    def _start_phonify_poller(self) -> threading.Thread | None:
        """Phonify has no webhooks: when its API is configured, the worker polls it."""
        if not (self.settings.phonify_api_url and self.settings.phonify_api_key):
            return None
        thread = threading.Thread(target=self._poll_phonify, name="phonify-poller",
                                  daemon=True)
        thread.start()
        return thread

    def _poll_phonify(self) -> None:
        from switchboard.poll.phonify import poll_once

        while not self.stopping.is_set():
            try:
                summary = poll_once(self.engine, self.settings)
                if summary.accepted:
                    log.info("%s", summary.line())
            except Exception:  # noqa: BLE001 - the next interval tries again
                log.exception("phonify poll failed")
            self.stopping.wait(self.settings.phonify_poll_interval)

    def _claim(self) -> list:
        with self.engine.begin() as conn:
            return store.claim(conn, self.id, clock.now(), self.batch_size, self.lease)

    def _send(self, rows: list) -> list[tuple[str, Future]]:
        return [(attempt.target(row),
                 self.executor.submit(attempt.run, row, self.pool, self.settings, clock.now()))
                for row in rows]

    def _record(self, batch: list[tuple[str, Future]]) -> None:
        if batch:
            outcomes = [(target, future.result()) for target, future in batch]
            with self.engine.begin() as conn:
                store.record(conn, self.id, [o for _, o in outcomes], clock.now(),
                             self.settings.disable_after)
            # Counted once written down, so the counters agree with the attempts table.
            for target, outcome in outcomes:
                DELIVERIES.labels(target, attempt.outcome_name(outcome)).inc()
                if outcome.attempt is not None:
                    ATTEMPT_SECONDS.labels(target).observe(outcome.attempt["duration_ms"] / 1000)

    def _record_until_done(self, batch: list[tuple[str, Future]]) -> None:
        """On the way out: what was sent must be written down, even if the database is
        briefly away (otherwise the lease expires and it is sent again)."""
        for delay in (0, 1, 2, 4):
            time.sleep(delay)
            try:
                self._record(batch)
                return
            except DBAPIError as exc:
                log.error("worker could not record its last batch: %s",
                          type(exc.orig).__name__)

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
