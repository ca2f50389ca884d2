"""What one batch of answers does to a subscription: a 410 disables it whatever else the
batch holds, a failure starts its failing streak even beside a success, and one failing for
longer than disable_after is disabled with a reason that says for how long."""

from __future__ import annotations

import pytest

from switchboard.worker.runner import Worker
from tests.callbacks import send_honkio
from tests.conftest import expand_owed, rows
from tests.test_fanout import deliveries, subscribe


def subscription(engine) -> dict:
    (row,) = rows(engine, "SELECT active, disabled_reason, failing_since FROM subscriptions")
    return dict(row)


def one_batch(client, engine, settings, subscriber, answers) -> None:
    """Two events for one subscription, in one batch sent one at a time, answered
    `answers` in that order (the order the batch is then written down in)."""
    subscribe(engine, settings, subscriber.url)
    for status in answers:
        subscriber.reply(status)
    send_honkio(client)
    send_honkio(client)
    expand_owed(engine)
    worker = Worker(engine, settings, concurrency=1, poll_interval=0.02)
    try:
        assert worker.run_once() == 2
    finally:
        worker.close()
    assert len(subscriber.received) == 2


@pytest.mark.parametrize("answers", [(410, 500), (500, 410), (200, 410), (410, 200)])
def test_a_410_in_a_batch_disables_the_subscription(client, engine, settings, subscriber,
                                                     frozen_clock, answers):
    one_batch(client, engine, settings, subscriber, answers)
    stored = subscription(engine)
    assert stored["active"] in (False, 0)
    assert stored["disabled_reason"] == "subscriber answered 410 Gone"


@pytest.mark.parametrize("answers", [(200, 500), (500, 200)])
def test_a_failure_beside_a_success_starts_the_failing_streak(
        client, engine, settings, subscriber, frozen_clock, answers):
    one_batch(client, engine, settings, subscriber, answers)
    stored = subscription(engine)
    assert stored["active"] in (True, 1) and stored["disabled_reason"] is None
    assert stored["failing_since"] is not None
    assert sorted(d["state"] for d in deliveries(engine)) == ["pending", "succeeded"]


def test_a_failing_streak_keeps_its_start_and_disables_after_its_time(
        client, engine, settings, subscriber, make_worker, frozen_clock):
    subscribe(engine, settings, subscriber.url)
    subscriber.default = (500, {}, b"")
    worker = make_worker(retry_schedule=(0, 60, 30), disable_after=100)
    send_honkio(client)
    worker.run_once()
    started = subscription(engine)["failing_since"]
    frozen_clock.advance(75)  # past 60 s and its jitter (a fifth either way)
    assert worker.run_once() == 1  # failing for 75 s: still on, the streak not restarted
    stored = subscription(engine)
    assert stored["active"] in (True, 1) and stored["failing_since"] == started
    frozen_clock.advance(70)
    assert worker.run_once() == 1  # failing for 145 s: past disable_after
    stored = subscription(engine)
    assert stored["active"] in (False, 0)
    assert stored["disabled_reason"] == "failing for 100s without a success"
