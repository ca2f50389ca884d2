"""Workers as real processes: two sharing the work, one killed mid-batch, one stopped by
SIGTERM. Each runs `python -m switchboard.cli worker` against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import select

from switchboard import subscriptions as subs
from switchboard.models import Delivery
from tests.callbacks import send_honkio
from tests.subscriber import Subscriber


@pytest.fixture
def subscriber():
    server = Subscriber().start()
    yield server
    server.stop()


@pytest.fixture
def start_worker(database_url, tmp_path):
    started = []

    def start(*args: str, name: str = "worker", **settings: str) -> subprocess.Popen:
        env = {**os.environ, "SWITCHBOARD_DATABASE_URL": database_url,
               "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true",
               **{f"SWITCHBOARD_{key.upper()}": value for key, value in settings.items()}}
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen([sys.executable, "-m", "switchboard.cli", "worker", *args],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        log.close()


def states(engine) -> list:
    table = Delivery.__table__
    with engine.connect() as conn:
        return conn.execute(select(table.c.state, table.c.leased_by)).all()


def subscribe(engine, settings, url):
    from switchboard import clock

    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=url, event_types=["*"])


def wait_until(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_two_workers_share_500_deliveries(client, engine, settings, subscriber, start_worker,
                                          tmp_path):
    subscribe(engine, settings, subscriber.url)
    subscriber.delay = 0.002
    events = [send_honkio(client)[0] for _ in range(500)]
    start_worker("--concurrency", "4", name="a")
    start_worker("--concurrency", "4", name="b")
    subscriber.wait_for(500, timeout=60)
    wait_until(lambda: all(state == "succeeded" for state, _ in states(engine)))
    time.sleep(0.5)  # a double send would land now
    counts = Counter(subscriber.webhook_ids())
    assert set(counts) == set(events)
    assert max(counts.values()) == 1, "a delivery was sent twice"
    for name in ("a", "b"):  # both took part
        assert b'"outcome": "succeeded"' in (tmp_path / f"{name}.log").read_bytes()


def test_killed_worker_deliveries_are_taken_over_after_the_lease(
        client, engine, settings, subscriber, start_worker):
    subscribe(engine, settings, subscriber.url)
    subscriber.delay = 1.0
    events = [send_honkio(client)[0] for _ in range(12)]
    # A 2 s lease needs a shorter timeout: no attempt may outlast the lease.
    doomed = start_worker("--concurrency", "4", "--lease", "2", name="doomed",
                          delivery_timeout="1.5")
    subscriber.wait_for(1)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait()
    held = [leased for _, leased in states(engine) if leased]
    assert held, "the killed worker held deliveries"
    subscriber.delay = 0.0
    start_worker("--concurrency", "4", "--lease", "2", name="heir", delivery_timeout="1.5")
    wait_until(lambda: all(state == "succeeded" for state, _ in states(engine)))
    assert set(subscriber.webhook_ids()) == set(events)


def test_sigterm_finishes_the_batch_in_hand(client, engine, settings, subscriber,
                                            start_worker):
    subscribe(engine, settings, subscriber.url)
    subscriber.delay = 1.0
    for _ in range(3):
        send_honkio(client)
    worker = start_worker("--concurrency", "4")
    subscriber.wait_for(1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0
    final = states(engine)
    assert [state for state, _ in final] == ["succeeded"] * 3
    assert all(leased is None for _, leased in final)
