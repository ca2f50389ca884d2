"""Delivery edges: the timeout, the 1 KiB response cut, Retry-After as a date, a subscriber
down for a stretch, a dead handler retried by an operator, and LISTEN/NOTIFY wake-ups."""

from __future__ import annotations

import threading
from datetime import timedelta
from email.utils import format_datetime

import pytest

from switchboard.handlers.registry import on, unregister
from switchboard.operations.deliveries import retry
from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import PG_URL
from tests.subscriber import Subscriber
from tests.test_fanout import attempts, deliveries, subscribe


def test_a_subscriber_slower_than_the_timeout_is_a_timeout_and_retried(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.delay = 2.0
    send_honkio(client)
    worker = make_worker(delivery_timeout=0.3, retry_schedule=(0, 10))
    worker.run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending" and delivery["attempts"] == 1
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["status_code"] is None and "timed out" in attempt["error"].lower()
    assert 8 <= (delivery["next_attempt_at"] - frozen_clock.moment).total_seconds() <= 12
    subscriber.delay = 0.0
    frozen_clock.advance(13)
    worker.run_once()
    assert deliveries(engine)[0]["state"] == "succeeded"


@pytest.mark.parametrize("size", [3000, 200_000])  # drained and reused / closed
def test_only_the_first_kib_of_the_answer_is_kept(client, engine, settings, subscriber,
                                                  make_worker, frozen_clock, size):
    subscribe(engine, settings, subscriber.url)
    body = ("".join(chr(ord("a") + i % 26) for i in range(size))).encode()
    subscriber.reply(200, body=body)
    send_honkio(client)
    send_honkio(client)  # the connection is still usable after the cut
    make_worker().run_once()
    stored = sorted(attempts(engine, d["id"])[0]["response_body"] for d in deliveries(engine))
    assert sorted([body[:1024].decode(), '{"ok": true}']) == stored


def test_an_answer_with_nul_bytes_is_recorded_not_jammed(client, engine, settings,
                                                         subscriber, make_worker,
                                                         frozen_clock):
    # PostgreSQL text refuses NUL: stored as is, the attempt could never be written down,
    # and the whole batch would be retried (and resent) for ever.
    subscribe(engine, settings, subscriber.url)
    subscriber.reply(200, body=b'{"ok": true}\x00\x00tail')
    send_honkio(client)
    assert make_worker().run_once() == 1
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "succeeded"
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["response_body"] == '{"ok": true}\ufffd\ufffdtail'


def test_a_handler_error_with_nul_bytes_is_recorded_not_jammed(client, engine, settings,
                                                               make_worker, frozen_clock):
    @on("message.delivered", name="test.nul")
    def broken(event):
        # A NUL, and a lone surrogate as os.fsdecode makes of a file name's bad byte.
        raise RuntimeError("bad\x00byte \udc80")

    try:
        send_honkio(client)
        assert make_worker(retry_schedule=(0, 60)).run_once() == 1
    finally:
        unregister("test.nul")
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending"
    assert delivery["last_error"] == "RuntimeError: bad\ufffdbyte ?"
    (attempt,) = attempts(engine, delivery["id"])
    assert attempt["error"] == "RuntimeError: bad\ufffdbyte ?"


def test_retry_after_as_an_http_date(client, engine, settings, subscriber, make_worker,
                                     frozen_clock):
    subscribe(engine, settings, subscriber.url)
    later = frozen_clock.moment + timedelta(seconds=90)
    subscriber.reply(503, {"Retry-After": format_datetime(later, usegmt=True)})
    send_honkio(client)
    make_worker(retry_schedule=(0, 5, 5)).run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending" and delivery["next_attempt_at"] == later


@pytest.mark.parametrize("retry_after, wait", [
    ("999999", 86400),               # eleven days: a subscriber's slip, held to one day
    ("86400", 86400),
    (timedelta(days=3), 86400),      # an HTTP date three days ahead: one day too
    (timedelta(seconds=-600), 0),    # a date already gone: due at once, not in the past
], ids=["seconds past a day", "a day", "date past a day", "date in the past"])
def test_retry_after_is_held_between_now_and_one_day(client, engine, settings, subscriber,
                                                     make_worker, frozen_clock, retry_after,
                                                     wait):
    subscribe(engine, settings, subscriber.url)
    if isinstance(retry_after, timedelta):
        retry_after = format_datetime(frozen_clock.moment + retry_after, usegmt=True)
    subscriber.reply(503, {"Retry-After": retry_after})
    send_honkio(client)
    make_worker(retry_schedule=(0, 5, 5)).run_once()
    (delivery,) = deliveries(engine)
    assert delivery["state"] == "pending"
    assert delivery["next_attempt_at"] == frozen_clock.moment + timedelta(seconds=wait)


def test_deliveries_failing_together_are_retried_spread_around_their_step(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    """A subscriber that fails a burst must not get the whole burst back at one instant: each
    retry waits its step give or take 20%, some sooner and some later. (16 draws all on one
    side of the step: 1 in 32,768.)"""
    subscribe(engine, settings, subscriber.url)
    subscriber.default = (500, {}, b"")
    for _ in range(16):
        send_honkio(client)
    assert make_worker(retry_schedule=(0, 100)).run_once() == 16
    waits = [(d["next_attempt_at"] - frozen_clock.moment).total_seconds()
             for d in deliveries(engine)]
    assert all(80 <= wait <= 120 for wait in waits), waits
    assert min(waits) < 100 < max(waits), waits


def test_subscriber_down_for_a_stretch_then_back(client, engine, settings, make_worker,
                                                 frozen_clock):
    """Connection refused for two rounds; every delivery waits its schedule step, and all are
    delivered once the subscriber listens again on the same port."""
    down = Subscriber()
    port = down.server.server_address[1]
    url = down.url
    down.server.server_close()
    subscribe(engine, settings, url)
    events = [send_honkio(client)[0] for _ in range(3)]
    schedule = (0, 10, 60, 300)
    worker = make_worker(retry_schedule=schedule)
    for step in schedule[1:3]:
        assert worker.run_once() == 3
        for delivery in deliveries(engine):
            wait = (delivery["next_attempt_at"] - frozen_clock.moment).total_seconds()
            assert step * 0.8 <= wait <= step * 1.2
        frozen_clock.advance(step * 0.75)
        assert worker.run_once() == 0  # not due before its step
        frozen_clock.advance(step * 0.5)
    back = Subscriber(port).start()
    try:
        assert worker.run_once() == 3
        assert sorted(back.webhook_ids()) == sorted(events)
    finally:
        back.stop()
    for delivery in deliveries(engine):
        assert delivery["state"] == "succeeded" and delivery["attempts"] == 3
        tried = attempts(engine, delivery["id"])
        assert [a["status_code"] for a in tried] == [None, None, 200]
        assert all("Error" in a["error"] for a in tried[:2])


def test_dead_handler_delivery_retried_by_an_operator_succeeds(client, engine, settings,
                                                               make_worker, frozen_clock):
    fixed = threading.Event()
    seen = []

    @on("message.delivered", name="test.flaky")
    def flaky(event):
        if not fixed.is_set():
            raise RuntimeError("not yet")
        seen.append(event["id"])

    try:
        (event_id,) = send_honkio(client)
        worker = make_worker(retry_schedule=(0,))
        worker.run_once()
        (delivery,) = deliveries(engine)
        assert delivery["state"] == "dead" and delivery["last_error"] == "RuntimeError: not yet"
        fixed.set()
        with engine.begin() as conn:
            retry(conn, delivery["id"], frozen_clock.moment)
        assert worker.run_once() == 1
        (delivery,) = deliveries(engine)
        assert delivery["state"] == "succeeded" and seen == [event_id]
        assert [a["error"] for a in attempts(engine, delivery["id"])] == [
            "RuntimeError: not yet", None]
    finally:
        unregister("test.flaky")


@pytest.mark.skipif(not PG_URL, reason="LISTEN/NOTIFY is PostgreSQL's; SQLite polls")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_notify_wakes_an_idle_worker(client, engine, settings, subscriber):
    """The worker polls only every 10 minutes here: a delivery arriving at all within the
    test's wait means NOTIFY woke it."""
    subscribe(engine, settings, subscriber.url)
    worker = Worker(engine, settings, concurrency=2, poll_interval=600)
    idle = threading.Event()
    real_wait = worker.wakeup.wait

    def waiting(timeout: float) -> None:
        idle.set()
        real_wait(timeout)

    worker.wakeup.wait = waiting
    thread = threading.Thread(target=worker.run_forever, kwargs={"idle_wait": 600},
                              daemon=True)
    thread.start()
    try:
        assert idle.wait(30), "the worker never went idle"
        (event_id,) = send_honkio(client)
        subscriber.wait_for(1, timeout=60)
        assert subscriber.webhook_ids() == [event_id]
    finally:
        worker.stop()
        thread.join(timeout=30)
        worker.close()
    assert not thread.is_alive()
