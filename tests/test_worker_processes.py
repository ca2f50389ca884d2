"""Workers as real processes: two sharing the work, one killed mid-batch, one stopped by
SIGTERM. Each runs `python -m switchboard.cli worker` against the test database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest
from sqlalchemy import select

from switchboard.models import Delivery
from switchboard.operations import subscriptions as subs
from tests.callbacks import honkio_body, send_honkio
from tests.conftest import SECRETS
from tests.signing import honkio_headers


@pytest.fixture
def start_worker(database_url, tmp_path):
    started = []

    def start(*args: str, name: str = "worker", command: str = "worker",
              extra_env: dict | None = None, **settings: str) -> subprocess.Popen:
        env = {**os.environ, "SWITCHBOARD_DATABASE_URL": database_url,
               "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true", **(extra_env or {}),
               **{f"SWITCHBOARD_{key.upper()}": value for key, value in settings.items()}}
        log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed below
        process = subprocess.Popen([sys.executable, "-m", "switchboard.cli", command, *args],
                                   env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if group_alive(process.pid):  # its own session: serve's children go with it
            os.killpg(process.pid, signal.SIGKILL)
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
    start_worker("--concurrency", "4", name="a")
    start_worker("--concurrency", "4", name="b")
    # Both running before the callbacks come, as in production: started one after the
    # other against 500 waiting rows, the first could finish them while the second was
    # still importing (it did once, on a fast run).
    wait_until(lambda: all(b'started"' in (tmp_path / f"{name}.log").read_bytes()
                           for name in ("a", "b")))
    events = [send_honkio(client)[0] for _ in range(500)]
    subscriber.wait_for(500, timeout=60)
    wait_until(lambda: all(state == "succeeded" for state, _ in states(engine)))
    time.sleep(0.5)  # a double send would land now
    counts = Counter(subscriber.webhook_ids())
    assert set(counts) == set(events)
    assert max(counts.values()) == 1, "a delivery was sent twice"
    assert len(states(engine)) == 500, "an event was expanded twice"
    for name in ("a", "b"):  # both took part
        assert b'"outcome": "succeeded"' in (tmp_path / f"{name}.log").read_bytes()


def test_two_workers_deliver_each_messages_receipts_in_order(
        client, engine, settings, subscriber, start_worker, tmp_path):
    """The subscriber answers 500 to each message's first message.sent and 200 after; its
    delivered is stored a moment later, while sent waits for its retry. Two worker processes
    share the work, and every message still arrives sent, sent, delivered: never delivered
    before its sent, which the claim holds back whichever worker looks."""
    subscribe(engine, settings, subscriber.url)
    refused: set[str] = set()

    def answer(arrived):
        event = json.loads(arrived.body)
        message = event["data"]["message_id"]
        if event["type"] == "message.sent" and message not in refused:
            refused.add(message)
            return 500, {}, b""
        return None

    subscriber.answer = answer
    for name in ("a", "b"):
        start_worker("--concurrency", "4", name=name, retry_schedule="0,0.3,1,2")
    wait_until(lambda: all(b'started"' in (tmp_path / f"{name}.log").read_bytes()
                           for name in ("a", "b")))
    messages = [f"msg_{i:03d}_{os.getpid()}" for i in range(60)]
    for message in messages:
        send_honkio(client, "sent", message)
        time.sleep(0.01)
        send_honkio(client, "delivered", message)
    subscriber.wait_for(3 * len(messages), timeout=60)
    time.sleep(0.5)  # a double send would land now
    seen: dict[str, list] = {}
    for arrived in subscriber.received:
        event = json.loads(arrived.body)
        seen.setdefault(event["data"]["message_id"], []).append(
            (event["type"], event["sequence"]))
    expected = [("message.sent", 1), ("message.sent", 1), ("message.delivered", 2)]
    assert {message: seen.get(message) for message in messages} \
        == {message: expected for message in messages}
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



def test_sigterm_with_a_hung_handler_exits_after_the_grace_period(
        client, engine, settings, start_worker, tmp_path):
    """The worker exits (status 1) although the handler never returns, and leaves that
    delivery leased for another worker to take over after the lease."""
    marker = tmp_path / "entered"
    send_honkio(client)
    worker = start_worker("--grace", "1", handler_modules="tests.handler_fixtures.hangs",
                          extra_env={"SB_TEST_HANG_MARKER": str(marker)}, name="hung")
    wait_until(marker.exists)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 1
    assert states(engine) == [("pending", states(engine)[0][1])]
    assert states(engine)[0][1] is not None, "the hung handler's row is left leased"
    assert b"still running after the 1s grace period" in (tmp_path / "hung.log").read_bytes()


def test_a_handler_module_loaded_only_in_the_worker_gets_its_events(
        client, engine, settings, start_worker, tmp_path):
    """The web side (this test's app) has no SWITCHBOARD_HANDLER_MODULES: who is owed an
    event is decided by the worker that expands it."""
    record = tmp_path / "handled"
    events = [send_honkio(client)[0] for _ in range(3)]
    start_worker(handler_modules="tests.handler_fixtures.records",
                 extra_env={"SB_TEST_RECORD_FILE": str(record)})
    wait_until(lambda: record.exists() and len(record.read_text().split()) == 3)
    assert sorted(record.read_text().split()) == sorted(events)
    wait_until(lambda: states(engine) and all(s == "succeeded" for s, _ in states(engine)))
    table = Delivery.__table__
    with engine.connect() as conn:
        owed = conn.execute(select(table.c.event_id, table.c.handler)).all()
    assert sorted(owed) == sorted((event, "tests.records") for event in events)


def test_workers_killed_mid_expansion_lose_nothing_and_make_nothing_twice(
        client, engine, settings, subscriber, start_worker):
    """SIGKILL at moments spread over a backlog of owed fan-outs: each one either committed
    its events' rows and cleared their marks, or neither; the unique key would refuse a
    second row. The last worker finishes, and every event reaches every subscription."""
    urls = [f"{subscriber.url}/s{i}" for i in range(10)]
    for url in urls:
        subscribe(engine, settings, url)
    events = [send_honkio(client)[0] for _ in range(150)]
    for round_, after in enumerate((0.3, 0.6, 0.9, 1.2)):
        doomed = start_worker("--concurrency", "4", "--lease", "2", name=f"doomed{round_}",
                              delivery_timeout="1.5")
        time.sleep(after)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
    start_worker("--concurrency", "8", "--lease", "2", name="heir", delivery_timeout="1.5")
    wait_until(lambda: owed_events(engine) == 0 and len(states(engine)) == 1500
               and all(state == "succeeded" for state, _ in states(engine)), timeout=90)
    table = Delivery.__table__
    with engine.connect() as conn:
        made = Counter(conn.execute(select(table.c.event_id, table.c.subscription_id)).all())
    assert len(made) == 1500 and max(made.values()) == 1
    got = {(r.headers["webhook-id"], r.path.rsplit("/", 1)[1]) for r in subscriber.received}
    assert got == {(event, f"s{i}") for event in events for i in range(10)}


def owed_events(engine) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT count(*) FROM events WHERE fanout_owed IS NOT NULL").scalar_one()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_serve_runs_http_and_a_worker_and_ctrl_c_stops_both(
        engine, settings, subscriber, start_worker):
    """`switchboard serve` (what `make run` runs): a callback posted to its HTTP port reaches
    a subscriber through its worker; SIGINT to the process group, as Ctrl-C sends, ends
    every process in it with status 0."""
    subscribe(engine, settings, subscriber.url)
    port = free_port()
    serve = start_worker("--bind", f"127.0.0.1:{port}", "--workers", "1", command="serve",
                         name="serve", honkio_secrets=SECRETS["honkio"][0])
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    wait_until(up)
    body = honkio_body()
    headers = honkio_headers(body, SECRETS["honkio"][0], int(time.time()))
    request = urllib.request.Request(base + "/webhooks/honkio", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as answer:
        (event_id,) = json.loads(answer.read())["event_ids"]
    subscriber.wait_for(1)
    assert subscriber.webhook_ids() == [event_id]
    os.killpg(serve.pid, signal.SIGINT)
    assert serve.wait(timeout=60) == 0
    wait_until(lambda: not group_alive(serve.pid))


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
