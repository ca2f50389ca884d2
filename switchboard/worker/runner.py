"""The worker loop: expand owed fan-outs and claim a batch, attempt it with a bounded pool,
record, repeat."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Engine

from switchboard import clock
from switchboard.config import Settings
from switchboard.observability.metrics import ATTEMPT_SECONDS, DELIVERIES
from switchboard.store import deliveries as store
from switchboard.store.db import DATABASE_ERRORS
from switchboard.store.wakeup import Wakeup
from switchboard.worker import attempt, expand
from switchboard.worker.send import Pool

log = logging.getLogger("switchboard.worker")


def _cause(exc: Exception) -> BaseException:
    """What the driver said; a pool timeout has no driver error behind it."""
    return getattr(exc, "orig", None) or exc


class Sent(NamedTuple):
    row: Any
    future: Future
    keep_by: float  # monotonic: written down by then, or the lease may run out

    @property
    def target(self) -> str:
        return attempt.target(self.row)


class Worker:
    def __init__(self, engine: Engine, settings: Settings, *, concurrency: int = 16,
                 batch_size: int | None = None, lease_seconds: float | None = None,
                 poll_interval: float = 0.05, worker_id: str | None = None,
                 grace_seconds: float | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.concurrency = concurrency
        self.batch_size = batch_size or concurrency * 4
        # Two batches can be queued on the pool at once (run_forever), each row bounded by the
        # timeout: the default lease covers every row of both timing out, plus a margin.
        rounds = 2 * math.ceil(self.batch_size / concurrency)
        self.lease_seconds = lease_seconds or settings.delivery_timeout * rounds + 30
        self.lease = timedelta(seconds=self.lease_seconds)
        # A row is only started if its attempt (bounded by the timeout) ends this long before
        # its lease does, leaving time to write it down; else it is released unsent.
        self.margin = self.lease_seconds / 10
        if self.lease_seconds <= settings.delivery_timeout + self.margin:
            raise ValueError(f"the lease ({self.lease_seconds:g}s) must be longer than "
                             f"DELIVERY_TIMEOUT ({settings.delivery_timeout:g}s) plus a tenth "
                             "of itself, or nothing could be sent within it")
        self.grace = (settings.delivery_timeout + 5 if grace_seconds is None
                      else grace_seconds)
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.pool = Pool(concurrency)
        self.executor = ThreadPoolExecutor(concurrency, thread_name_prefix="delivery")
        self.wakeup = Wakeup(engine, poll_interval)
        self.stopping = threading.Event()
        self.stop_by: float | None = None  # monotonic deadline once stopping
        self.stuck = 0  # attempts still running when the grace period ran out
        self.started: dict[tuple[str, int], float] = {}  # (delivery, attempts): its start
        self.hung: set[Future] = set()  # handlers recorded as timed out, still running
        self.soonest_retry: datetime | None = None  # of the retries it wrote since it waited

    def run_once(self) -> int:
        """Expand a batch of owed fan-outs, claim and attempt one batch of deliveries, and
        record it; return how many deliveries it held."""
        _, rows = self._claim()
        batch = self._send(rows)
        self._record(batch)
        return len(batch)

    def run_forever(self, idle_wait: float = 5.0) -> None:
        """Two batches in flight: while one is being sent, the previous one is recorded and
        the next claimed, so the database round trips do not stall the sending."""
        log.info("worker %s started", self.id)
        poller = self._start_phonify_poller()
        checker = self._start_overdue_check()
        self.wakeup.listen()
        in_flight: list[Sent] = []
        while not self.stopping.is_set():
            claimed: list[Sent] = []
            expanded = freed = 0
            try:
                expanded, rows = self._claim()
                claimed = self._send(rows)
                freed = self._record(in_flight)
                in_flight = claimed
            except DATABASE_ERRORS as exc:
                # The database may be restarting: keep every batch that was sent until it
                # is written down (else its lease runs out and it is sent twice), back
                # off, and resume without a restart.
                in_flight = in_flight + claimed
                cause = _cause(exc)
                log.error("worker database error: %s: %s", type(cause).__name__,
                          (str(cause).splitlines() or [""])[0][:200])
                self.stopping.wait(1.0)
                continue
            # A finished head frees the next event of its message at once: claim it now
            # (no notification says so).
            if not in_flight and not expanded and not freed and not self.stopping.is_set():
                self.wakeup.wait(self._idle_wait(idle_wait))
        self._record_until_done(in_flight)
        if poller is not None:
            poller.join(timeout=self.settings.delivery_timeout + 5)
        if checker is not None:
            checker.join(timeout=self.settings.delivery_timeout + 5)
        log.info("worker %s stopped", self.id)

    def _idle_wait(self, longest: float) -> float:
        """Until a retry this worker scheduled falls due, if that is sooner: no notification
        says so, and on PostgreSQL the wait is otherwise long (the rest of a message's events
        wait behind that retry)."""
        soonest, self.soonest_retry = self.soonest_retry, None
        if soonest is None:
            return longest
        return min(longest, max(0.0, (soonest - clock.now()).total_seconds()))

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

    def _start_overdue_check(self) -> threading.Thread | None:
        """Receipts that never came: each worker checks on its own (worker/overdue.py makes
        one event per message however many do)."""
        if self.settings.receipt_timeout <= 0:
            return None
        thread = threading.Thread(target=self._check_overdue, name="overdue-check",
                                  daemon=True)
        thread.start()
        return thread

    def _check_overdue(self) -> None:
        from switchboard.worker import overdue

        interval = min(overdue.INTERVAL, self.settings.receipt_timeout)
        while not self.stopping.is_set():
            try:
                result = overdue.check(self.engine, self.settings.receipt_timeout,
                                       clock.now())
                if result.events:
                    log.info("%s", result.line())
            except Exception:  # noqa: BLE001 - the next interval tries again
                log.exception("receipt overdue check failed")
            self.stopping.wait(interval)

    def _claim(self) -> tuple[int, list]:
        """Expand at most a batch of owed events, then claim a batch of due deliveries (the
        new rows included), in one transaction: one commit for both, and each round does a
        bounded share of each, so neither starves the other. Returns (events expanded,
        deliveries claimed)."""
        now = clock.now()
        with self.engine.begin() as conn:
            expanded, _ = expand.expand(conn, now, self.batch_size)
            return expanded, store.claim(conn, self.id, now, self.batch_size, self.lease)

    def _send(self, rows: list) -> list[Sent]:
        keep_by = time.monotonic() + self.lease_seconds - self.margin
        send_by = keep_by - self.settings.delivery_timeout
        return [Sent(row, self.executor.submit(self._attempt, row, send_by), keep_by)
                for row in rows]

    def _attempt(self, row: Any, send_by: float) -> store.Outcome | None:
        """Attempt one row, or None (release it unsent) if its lease could run out before the
        attempt is written down, or the worker is stopping: better late than twice."""
        if self.stopping.is_set() or time.monotonic() > send_by:
            return None
        # Keyed by attempt: a timed-out handler's thread that returns late must not clear the
        # start of the same delivery's next attempt.
        key = (row.id, row.attempts)
        self.started[key] = time.monotonic()
        try:
            return attempt.run(row, self.pool, self.settings, clock.now())
        finally:
            self.started.pop(key, None)

    def _settle(self, batch: list[Sent]) -> tuple[list[Future], list[Sent]]:
        """Wait for the batch, but not for a handler past DELIVERY_TIMEOUT (a thread cannot
        be interrupted: it is recorded as timed out and left running), nor for rows still
        queued behind such threads past the batch's lease margin (released unsent), nor,
        once stopping, past the grace period. Returns the futures left running when the
        grace period ran out, and the overdue handlers."""
        by_future = {sent.future: sent for sent in batch}
        pending = set(by_future)
        while pending:
            now = time.monotonic()
            if self.stop_by is not None and now >= self.stop_by:
                # Queued ones are released; running ones are left to their lease.
                return [future for future in pending if not future.cancel()], []
            sents = [by_future[future] for future in pending]
            waiting = [sent for sent in sents if not self._overdue(sent, now)]
            # A cancelled future is done: the next wait() hands it back, and it is released.
            if all(now >= sent.keep_by and sent.future.cancel() for sent in waiting):
                return [], [sent for sent in sents if sent not in waiting]
            _, pending = wait(pending, timeout=0.2)
        return [], []

    def _overdue(self, sent: Sent, now: float) -> bool:
        started = self.started.get((sent.row.id, sent.row.attempts))
        return (sent.target == "handler" and started is not None
                and now - started > self.settings.delivery_timeout)

    def _record(self, batch: list[Sent]) -> int:
        """Write the batch down; return how many of its deliveries of a message's event
        (sequenced) it finished, each of which may let the next of its message go."""
        if not batch:
            return 0
        running, overdue = self._settle(batch)
        unsettled = set(running) | {s.future for s in overdue}
        results = [(s, None if s.future.cancelled() else s.future.result())
                   for s in batch if s.future not in unsettled]
        if overdue:
            self.hung.update(s.future for s in overdue)
            log.warning("worker %s: %d handlers still running after DELIVERY_TIMEOUT "
                        "(%gs): recorded as timed out and retried; their threads are lost "
                        "until they return", self.id, len(overdue),
                        self.settings.delivery_timeout)
            results += [(s, attempt.timed_out(s.row, self.settings, clock.now()))
                        for s in overdue]
        outcomes = [(s.target, result) for s, result in results if result is not None]
        unsent = [s.row.id for s, result in results if result is None]
        with self.engine.begin() as conn:
            written = store.record(conn, self.id, [o for _, o in outcomes], clock.now(),
                                   self.settings.disable_after)
            store.release(conn, self.id, unsent)
        if len(written) < len(outcomes):
            log.warning("worker %s lost the lease of %d attempted deliveries before "
                        "writing them down", self.id, len(outcomes) - len(written))
        if running:
            self.stuck = len(running)
            log.warning("worker %s: %d deliveries still running after the %gs grace period; "
                        "left to their lease", self.id, len(running), self.grace)
        # Counted once written down, so the counters agree with the attempts table.
        kept = {id(o) for o in written}
        for target, outcome in outcomes:
            if id(outcome) not in kept:
                continue
            DELIVERIES.labels(target, attempt.outcome_name(outcome)).inc()
            if outcome.attempt is not None:
                ATTEMPT_SECONDS.labels(target).observe(outcome.attempt["duration_ms"] / 1000)
        retries = [o.next_attempt_at for o in written if o.state == "pending"]
        if retries:
            self.soonest_retry = min(retries + [self.soonest_retry or retries[0]])
        sequenced = {s.row.id for s in batch if s.row.sequence is not None}
        return sum(o.delivery_id in sequenced and o.state != "pending" for o in written)

    def _record_until_done(self, batch: list[Sent]) -> None:
        """On the way out: what was sent must be written down, even if the database is
        briefly away (otherwise the lease expires and it is sent again)."""
        for delay in (0, 1, 2, 4):
            time.sleep(delay)
            try:
                self._record(batch)
                return
            except DATABASE_ERRORS as exc:
                log.error("worker could not record its last batch: %s",
                          type(_cause(exc)).__name__)

    def stop(self, *_: object) -> None:
        """Start nothing new; give what is running the grace period to end, then exit."""
        if self.stop_by is None:
            self.stop_by = time.monotonic() + self.grace
        self.stopping.set()
        self.wakeup.stop()

    def install_signal_handlers(self) -> None:
        """SIGTERM and SIGINT stop the worker. A handler runs in the main thread, which may be
        inside Event.wait() holding the lock of the very event stop() sets: Event.set() there
        would wait forever on its own thread (it did, on an idle SQLite worker). So the
        handler only writes a byte to a pipe, and a thread of ours calls stop()."""
        read_fd, write_fd = os.pipe()

        def relay() -> None:
            while os.read(read_fd, 1):
                self.stop()

        threading.Thread(target=relay, name="worker-signals", daemon=True).start()

        def on_signal(_signum, _frame) -> None:
            try:
                os.write(write_fd, b"!")
            except BlockingIOError:  # thousands of signals unread: stopping already
                pass

        os.set_blocking(write_fd, False)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def close(self) -> None:
        """Waits for the pool's threads unless some are stuck (they would never end)."""
        self.stuck += sum(not future.done() for future in self.hung)
        self.executor.shutdown(wait=not self.stuck, cancel_futures=True)
        self.wakeup.close()
        self.pool.clear()
