"""Leases hold: a worker never sends a row whose lease could run out before it is written
down, never writes an attempt for a row it no longer holds, and stops within its grace
period even when a handler hangs."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from switchboard.handlers.registry import on, unregister
from switchboard.store import deliveries as store
from switchboard.store.deliveries import Outcome
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import expand_owed, rows
from tests.test_fanout import attempts, deliveries, subscribe
from tests.test_worker_processes import wait_until


def run_in_thread(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_forever, kwargs={"idle_wait": 0.05},
                              daemon=True)
    thread.start()
    return thread


def test_slow_subscriber_and_short_lease_never_send_twice(client, engine, settings,
                                                          subscriber):
    """One slow worker claims six rows it cannot send within its 2 s lease (one at a time,
    0.45 s each); a second worker takes over what the first cannot finish in time."""
    subscribe(engine, settings, subscriber.url)
    subscriber.delay = 0.45
    events = [send_honkio(client)[0] for _ in range(6)]
    short = dataclasses.replace(settings, delivery_timeout=0.5)
    slow = Worker(engine, short, concurrency=1, batch_size=6, lease_seconds=2,
                  poll_interval=0.02, worker_id="slow")
    spare = Worker(engine, short, concurrency=4, lease_seconds=2, poll_interval=0.02,
                   worker_id="spare")
    threads = [run_in_thread(slow)]
    try:
        subscriber.wait_for(1)
        threads.append(run_in_thread(spare))
        wait_until(lambda: all(d["state"] == "succeeded" for d in deliveries(engine)))
        wait_until(lambda: len(subscriber.received) >= 6)
    finally:
        for worker in (slow, spare):
            worker.stop()
        for thread in threads:
            thread.join(timeout=30)
        slow.close()
        spare.close()
    counts = Counter(subscriber.webhook_ids())
    assert set(counts) == set(events)
    assert max(counts.values()) == 1, f"sent twice: {counts}"
    for delivery in deliveries(engine):
        assert delivery["attempts"] == 1
        assert [a["status_code"] for a in attempts(engine, delivery["id"])] == [200]


def test_an_outcome_is_not_written_once_the_lease_is_lost(client, engine, settings,
                                                          subscriber, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    send_honkio(client)
    expand_owed(engine)
    with engine.begin() as conn:
        (row,) = store.claim(conn, "a", frozen_clock.moment, 10, timedelta(seconds=5))
    frozen_clock.advance(6)  # a's lease has run out: b takes the row
    with engine.begin() as conn:
        assert len(store.claim(conn, "b", frozen_clock.moment, 10, timedelta(seconds=5))) == 1
    late = Outcome(row.id, "succeeded", 1, frozen_clock.moment, frozen_clock.moment, None,
                   {"delivery_id": row.id, "started_at": frozen_clock.moment,
                    "duration_ms": 1.0, "status_code": 200, "error": None,
                    "response_body": "ok"})
    with engine.begin() as conn:
        assert store.record(conn, "a", [late], frozen_clock.moment, 3600) == []
    (delivery,) = deliveries(engine)
    assert (delivery["state"], delivery["attempts"], delivery["leased_by"]) == \
        ("pending", 0, "b")
    assert attempts(engine, delivery["id"]) == []
    with engine.begin() as conn:  # b, which holds it, writes its own outcome
        assert len(store.record(conn, "b", [late], frozen_clock.moment, 3600)) == 1
    assert len(attempts(engine, delivery["id"])) == 1


def test_a_lease_shorter_than_the_timeout_is_refused(engine, settings):
    with pytest.raises(ValueError, match="lease"):
        Worker(engine, settings, lease_seconds=settings.delivery_timeout)


def test_a_hung_handler_does_not_hang_shutdown(client, engine, settings, subscriber):
    """The hung handler's row stays leased (taken up again after the lease); the rows queued
    behind it are released at once; nothing else waits for it."""
    subscribe(engine, settings, subscriber.url)
    entered, release = threading.Event(), threading.Event()

    @on("message.*", name="test.hangs")
    def hangs(event):
        entered.set()
        release.wait(60)

    worker = Worker(engine, settings, concurrency=1, poll_interval=0.02, grace_seconds=0.5)
    try:
        send_honkio(client)
        send_honkio(client)
        thread = run_in_thread(worker)
        assert entered.wait(30)
        worker.stop()
        thread.join(timeout=30)
        assert not thread.is_alive(), "stop waited for the hung handler"
        assert worker.stuck == 1
        held = rows(engine, "SELECT handler, leased_by FROM deliveries WHERE state = 'pending'"
                            " AND leased_by IS NOT NULL")
        assert [r["handler"] for r in held] == ["test.hangs"]
        # Everything else was sent and written, or given back unsent for another worker.
        others = [d for d in deliveries(engine) if d["leased_by"] is None]
        assert len(others) == 3 and all(d["state"] in ("succeeded", "pending") for d in others)
    finally:
        release.set()
        worker.close()
        unregister("test.hangs")


def test_a_handler_past_the_delivery_timeout_is_a_timed_out_attempt_and_is_retried(
        client, engine, settings, subscriber, frozen_clock):
    """A hung handler would otherwise hold its worker's whole loop: after DELIVERY_TIMEOUT
    it is recorded as a timeout and retried on the schedule like a subscriber, while the
    rest of its batch is written as usual."""
    subscribe(engine, settings, subscriber.url)
    short = dataclasses.replace(settings, delivery_timeout=0.5, retry_schedule=(0, 5))
    release = threading.Event()

    @on("message.*", name="test.slow_handler")
    def slow_handler(event):
        release.wait(60)

    worker = Worker(engine, short, concurrency=2, poll_interval=0.02)
    try:
        send_honkio(client)
        assert worker.run_once() == 2  # returns: it does not wait for the handler
        by_target = {("handler" if d["handler"] else "http"): d for d in deliveries(engine)}
        assert by_target["http"]["state"] == "succeeded"
        handler = by_target["handler"]
        assert handler["state"] == "pending" and handler["leased_by"] is None
        assert handler["attempts"] == 1
        assert [a["error"] for a in attempts(engine, handler["id"])] == [
            "TimeoutError: handler still running after 0.5s"]
        release.set()
        for future in worker.hung:
            future.result(timeout=10)
        frozen_clock.advance(6)
        assert worker.run_once() == 1
        (again,) = [d for d in deliveries(engine) if d["handler"]]
        assert again["state"] == "succeeded" and again["attempts"] == 2
    finally:
        release.set()
        worker.close()
        unregister("test.slow_handler")
    assert worker.stuck == 0


def test_a_worker_writes_its_batches_down_while_callbacks_keep_arriving(
        app, engine, settings, subscriber, caplog):
    """Recording a batch must not lose to concurrent ingest: on SQLite a record transaction
    that began with a read could not write once a callback had committed meanwhile
    (SQLITE_BUSY_SNAPSHOT), and failed over and over under a steady load."""
    subscribe(engine, settings, subscriber.url)
    sent: list[str] = []

    def feed() -> None:
        feeder_client = app.test_client()
        for _ in range(150):
            sent.extend(send_honkio(feeder_client))

    worker = Worker(engine, settings, concurrency=4, poll_interval=0.01)
    feeder = threading.Thread(target=feed)
    feeder.start()
    thread = run_in_thread(worker)
    try:
        feeder.join(timeout=120)
        wait_until(lambda: len(subscriber.received) >= len(sent) == 150, timeout=60)
    finally:
        worker.stop()
        thread.join(timeout=30)
        worker.close()
    failures = [r.getMessage() for r in caplog.records
                if r.name == "switchboard.worker" and r.levelname == "ERROR"]
    assert failures == []
    assert sorted(subscriber.webhook_ids()) == sorted(sent)


def test_a_worker_outlasts_a_pool_with_no_connection_to_give(client, engine, settings,
                                                             subscriber, caplog):
    """Every pooled connection held elsewhere: the claim waits out pool_timeout and fails
    with no driver error behind it. The worker says so and goes on; once a connection is
    free it delivers (its log line read the driver's error, which a pool timeout lacks, and
    the worker died on it)."""
    subscribe(engine, settings, subscriber.url)
    (event_id,) = send_honkio(client)
    tight = create_engine(engine.url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    held = tight.connect()
    worker = Worker(tight, settings, concurrency=2, poll_interval=0.02, worker_id="tight")
    thread = run_in_thread(worker)
    try:
        wait_until(lambda: any("worker database error: TimeoutError" in r.getMessage()
                               for r in caplog.records if r.name == "switchboard.worker"))
        assert thread.is_alive()
        held.close()
        subscriber.wait_for(1)
    finally:
        held.close()
        worker.stop()
        thread.join(timeout=30)
        worker.close()
        tight.dispose()
    assert subscriber.webhook_ids() == [event_id]
