"""A fleet on one database: two gunicorn servers and two `switchboard worker` processes,
2,000 signed HonkIO callbacks split across the servers (some duplicated across them, some
out of order), three subscribers (one failing for a while, one slow). Then: every unique
event stored once, every matching delivery made once, the failing subscriber caught up,
and /metrics agrees with the database.

Runs on PostgreSQL when SWITCHBOARD_TEST_DATABASE_URL is set, and on SQLite."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from switchboard import clock
from switchboard.config import Settings
from switchboard.operations import subscriptions as subs
from switchboard.store.db import make_engine
from tests.callbacks import honkio_body
from tests.conftest import SECRETS, rows
from tests.signing import honkio_headers
from tests.subscriber import Subscriber

pytestmark = pytest.mark.fleet

SECRET = SECRETS["honkio"][0]
IN_ORDER, OUT_OF_ORDER = 800, 50          # messages: sent then delivered / delivered then sent
RESENT, RACED = 150, 150                  # duplicates: later to the other server / both at once
FAILING_FOR = 3.0                         # seconds the failing subscriber answers 500
RETRY_SCHEDULE = "0,1,1,2,2,3"
DEADLINE = 90.0                           # seconds for everything to be delivered


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Fleet:
    def __init__(self, database_url: str, tmp_path) -> None:
        self.tmp = tmp_path
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir()
        self.env = {**os.environ, "SWITCHBOARD_DATABASE_URL": database_url,
                    "SWITCHBOARD_HONKIO_SECRETS": ",".join(SECRETS["honkio"]),
                    "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true",
                    "SWITCHBOARD_RETRY_SCHEDULE": RETRY_SCHEDULE,
                    "SWITCHBOARD_DELIVERY_TIMEOUT": "5",
                    # One machine: every process counts into one folder, any server shows all.
                    "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.servers: list[str] = []

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 - kept by the process
        process = subprocess.Popen([sys.executable, *args], env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()
        self.processes.append((name, process))

    def start_server(self, name: str) -> None:
        port = free_port()
        self._start(name, ["-m", "gunicorn", "-c", "python:switchboard.gunicorn_conf",
                           "--bind", f"127.0.0.1:{port}", "--workers", "2"])
        self.servers.append(f"http://127.0.0.1:{port}")

    def start_worker(self, name: str) -> None:
        self._start(name, ["-m", "switchboard.cli", "worker", "--concurrency", "8"])

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for url in self.servers:
            while True:
                try:
                    if requests.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} not ready:\n{self.logs()}")
                time.sleep(0.1)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n" + (self.tmp / f"{name}.log").read_text()[-3000:]
                         for name, _ in self.processes)

    def stop(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class FailingFor(Subscriber):
    """Answers 500 until recover(), then 200; remembers when it recovered."""

    def __init__(self) -> None:
        super().__init__()
        self.default = (500, {}, b"down")
        self.recovered_at: float | None = None

    def recover(self) -> None:
        with self.lock:
            self.default = (200, {}, b"ok")
            self.recovered_at = time.monotonic()


def callback(status: str, message_id: str) -> bytes:
    return honkio_body(status, message_id, f"evt_{uuid.uuid4().hex}")


def plan() -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
    """(server index, body) for phase 1 and phase 2; phase 2 starts when phase 1 is in."""
    first, second = [], []
    for i in range(IN_ORDER):
        message = f"msg_in_{i}_{uuid.uuid4().hex[:8]}"
        first.append((i % 2, callback("sent", message)))
        second.append((i % 2, callback("delivered", message)))
    for i in range(OUT_OF_ORDER):  # a 'sent' arriving after 'delivered': stored, superseded
        message = f"msg_late_{i}_{uuid.uuid4().hex[:8]}"
        first.append((i % 2, callback("delivered", message)))
        second.append(((i + 1) % 2, callback("sent", message)))
    resent = [(1 - server, body) for server, body in first[:RESENT]]
    raced = [(1 - server, body) for server, body in second[:RACED]]
    second = second + resent + raced
    random.Random(6).shuffle(second)
    return first, second


def send_all(servers: list[str], batch: list[tuple[int, bytes]]) -> list[tuple[int, dict]]:
    local = threading.local()

    def send(item: tuple[int, bytes]) -> tuple[int, dict]:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        server, body = item
        for _ in range(10):  # like a provider: a 503 is retried
            headers = honkio_headers(body, SECRET, int(time.time()))
            answer = session.post(servers[server] + "/webhooks/honkio", data=body,
                                  headers=headers, timeout=30)
            if answer.status_code != 503:
                return answer.status_code, answer.json()
            time.sleep(0.2)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(send, batch))


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and want <= set(got))


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def subscribers():
    made = {"ok": Subscriber().start(), "slow": Subscriber().start(),
            "failing": FailingFor().start()}
    made["slow"].delay = 0.02
    yield made
    for server in made.values():
        server.stop()


def test_fleet_stores_once_delivers_once_and_counts_right(database_url, tmp_path,
                                                          subscribers):
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url, allow_private_urls=True)
    with engine.begin() as conn:
        sub_ids = {
            "ok": subs.create(conn, settings, clock.now(), url=subscribers["ok"].url,
                              event_types=["*"])[0]["id"],
            "slow": subs.create(conn, settings, clock.now(), url=subscribers["slow"].url,
                                event_types=["message.delivered"])[0]["id"],
            "failing": subs.create(conn, settings, clock.now(),
                                   url=subscribers["failing"].url, event_types=["*"])[0]["id"],
        }
    fleet = Fleet(database_url, tmp_path)
    started = time.monotonic()
    try:
        fleet.start_server("web-a")
        fleet.start_server("web-b")
        fleet.start_worker("worker-a")
        fleet.start_worker("worker-b")
        fleet.wait_ready()
        first, second = plan()
        timer = threading.Timer(FAILING_FOR, subscribers["failing"].recover)
        timer.start()
        answers = send_all(fleet.servers, first) + send_all(fleet.servers, second)
        sent_at = time.monotonic()
        timer.join()

        assert len(answers) == 2000
        assert Counter(status for status, _ in answers) == {200: 2000}
        outcomes = Counter(body["status"] for _, body in answers)
        unique = 2 * (IN_ORDER + OUT_OF_ORDER)
        assert outcomes == {"accepted": unique, "duplicate": RESENT + RACED}

        fanout = unique - OUT_OF_ORDER
        expected = {"ok": fanout, "slow": IN_ORDER + OUT_OF_ORDER, "failing": fanout}
        wait_until(lambda: rows(engine, "SELECT count(*) AS n FROM deliveries "
                                        "WHERE state = 'succeeded'")[0]["n"]
                   == sum(expected.values()), DEADLINE, "every delivery")
        delivered_at = time.monotonic()
        time.sleep(0.5)  # a second send of anything would land now

        # Every unique event stored once; the late 'sent's stored but superseded.
        events = rows(engine, "SELECT id, vendor_event_id, disposition, type FROM events")
        assert len(events) == unique
        assert len({e["vendor_event_id"] for e in events}) == unique
        assert Counter(e["disposition"] for e in events) == {"fanout": fanout,
                                                            "superseded": OUT_OF_ORDER}
        fanout_ids = {e["id"] for e in events if e["disposition"] == "fanout"}
        delivered_ids = {e["id"] for e in events
                         if e["disposition"] == "fanout" and e["type"] == "message.delivered"}
        by_sub = Counter((r["subscription_id"], r["state"]) for r in rows(
            engine, "SELECT subscription_id, state FROM deliveries"))
        for name, count in expected.items():
            assert by_sub[(sub_ids[name], "succeeded")] == count, name
        assert sum(by_sub.values()) == sum(expected.values())

        # Each subscriber got what matched, each delivery once.
        for name, wanted in (("ok", fanout_ids), ("slow", delivered_ids)):
            got = Counter(subscribers[name].webhook_ids())
            assert set(got) == wanted, name
            assert max(got.values()) == 1, f"{name} got a delivery twice"
        failing = subscribers["failing"]
        before = {r.headers["webhook-id"] for r in failing.received
                  if r.at < failing.recovered_at}
        after = Counter(r.headers["webhook-id"] for r in failing.received
                        if r.at >= failing.recovered_at)
        assert before, "the failing subscriber was tried while it failed"
        assert set(after) == fanout_ids and max(after.values()) == 1

        # /metrics, from either server, agrees with the database.
        attempts = rows(engine, "SELECT count(*) AS n FROM attempts")[0]["n"]

        def metrics_agree() -> bool:
            samples = scrape(fleet.servers[0])
            return total(samples, "switchboard_deliveries_total") == attempts
        wait_until(metrics_agree, 10, "worker counters")
        for url in fleet.servers:
            samples = scrape(url)
            callbacks = "switchboard_callbacks_total"
            assert total(samples, callbacks, vendor="honkio", outcome="accepted") == unique
            assert total(samples, callbacks, vendor="honkio",
                         outcome="duplicate") == RESENT + RACED
            assert total(samples, "switchboard_ingest_duration_seconds_count") == \
                total(samples, callbacks)
            deliveries = "switchboard_deliveries_total"
            assert total(samples, deliveries, outcome="succeeded") == sum(expected.values())
            assert total(samples, deliveries, outcome="retry") == \
                attempts - sum(expected.values())
            assert total(samples, deliveries, outcome="dead") == 0
            assert total(samples, "switchboard_delivery_attempt_duration_seconds_count") == \
                attempts
            assert total(samples, "switchboard_deliveries_pending") == 0
            assert total(samples, "switchboard_deliveries_dead") == 0
        print(json.dumps({"send_s": round(sent_at - started, 1),
                          "all_delivered_s": round(delivered_at - started, 1),
                          "attempts": attempts}))
    except AssertionError:
        print(fleet.logs())
        raise
    finally:
        fleet.stop()
        engine.dispose()
