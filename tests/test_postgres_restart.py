"""PostgreSQL restarted in the middle of a load, on a private server this test starts (so
no other test's database goes away): callbacks during the outage get 503
`database_unavailable`, never a 500 and never a 200 for something not stored; afterwards
ingest and delivery resume by themselves, nothing stored is lost, and nothing is
delivered twice."""

from __future__ import annotations

import glob
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

import pytest

from switchboard import clock
from switchboard.config import Settings
from switchboard.models.migrate import upgrade
from switchboard.operations import subscriptions as subs
from switchboard.store.db import make_engine
from tests.callbacks import honkio_body
from tests.conftest import SECRETS, rows
from tests.gunicorn_server import free_port, wait_until_listening
from tests.signing import honkio_headers
from tests.subscriber import Subscriber

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
CALLBACKS = 240


def as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


@pytest.fixture
def private_postgres():
    bindir = os.path.dirname(BINARIES[-1])
    # Not pytest's tmp_path: its folders are private to root, and the server runs as
    # postgres.
    data = tempfile.mkdtemp(prefix="switchboard-pg-")
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(as_postgres(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U",
                               "postgres"), check=True, capture_output=True)
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    ctl = [f"{bindir}/pg_ctl", "-D", data, "-o", options, "-w", "-l", f"{data}/log"]
    subprocess.run(as_postgres(*ctl, "start"), check=True, capture_output=True)
    yield port, ctl
    subprocess.run(as_postgres(*ctl, "-m", "immediate", "stop"), capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


def start(argv, env, cwd):
    return subprocess.Popen([sys.executable, *argv], env=env, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.skipif(not BINARIES or not shutil.which("runuser") and os.geteuid() == 0,
                    reason="starts a private PostgreSQL: needs its server binaries "
                    "(/usr/lib/postgresql/*/bin/initdb, pg_ctl) and, as root, runuser to run "
                    "them as postgres; Debian's postgresql package, as on CI, has both")
def test_restart_mid_load_loses_nothing_and_doubles_nothing(private_postgres, tmp_path):
    port, ctl = private_postgres
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    engine = make_engine(url)
    upgrade(engine)
    subscriber = Subscriber().start()
    settings = Settings(database_url=url, allow_private_urls=True, vendor_secrets=SECRETS)
    with engine.begin() as conn:
        subs.create(conn, settings, clock.now(), url=subscriber.url, event_types=["*"])
    web_port = free_port()
    env = {**os.environ, "SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_ALLOW_PRIVATE_URLS":
           "true", "SWITCHBOARD_HONKIO_SECRETS": SECRETS["honkio"][0],
           "SWITCHBOARD_RETRY_SCHEDULE": "0,1,1,2,3,5"}
    processes = [
        start(["-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
               "switchboard.wsgi:app"], env, tmp_path),
        start(["-m", "switchboard.cli", "worker", "--concurrency", "4", "--lease", "20"],
              env, tmp_path),
    ]
    statuses: Counter = Counter()
    refusals: Counter = Counter()  # the error code of every 503 body
    unanswered: list[str] = []  # what went wrong when no HTTP answer came at all
    accepted: dict[str, list[str]] = {}
    try:
        wait_until_listening(web_port, processes[0])

        def provider(body: bytes) -> None:
            """Like a provider: resend until a 2xx, at most for 30 s."""
            give_up = time.monotonic() + 30
            while time.monotonic() < give_up:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", web_port, timeout=10)
                    conn.request("POST", "/webhooks/honkio", body=body, headers=honkio_headers(
                        body, SECRETS["honkio"][0], int(time.time())))
                    response = conn.getresponse()
                    answer = json.loads(response.read())
                    conn.close()
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    statuses["no answer"] += 1
                    unanswered.append(repr(exc))
                    time.sleep(0.2)
                    continue
                statuses[response.status] += 1
                if response.status == 503:
                    refusals[answer.get("error", {}).get("code")] += 1
                if response.status == 200:
                    accepted[json.loads(body)["id"]] = answer["event_ids"]
                    return
                time.sleep(0.2)

        def load(part: int) -> None:
            for _ in range(CALLBACKS // 4):
                provider(honkio_body())
                time.sleep(0.01)

        senders = [threading.Thread(target=load, args=(i,)) for i in range(4)]
        for sender in senders:
            sender.start()
        while sum(statuses.values()) < CALLBACKS // 3:
            time.sleep(0.02)
        subprocess.run(as_postgres(*ctl, "-m", "fast", "restart"), check=True,
                       capture_output=True)
        for sender in senders:
            sender.join(timeout=120)

        assert len(accepted) == CALLBACKS, f"answered 200: {len(accepted)}, {statuses}"
        # Only the database went away: gunicorn stayed up, so every request got an HTTP
        # answer (a connection error or a body that is not JSON would be a crash).
        assert unanswered == [], unanswered[:5]
        assert set(statuses) <= {200, 503}, statuses
        # Every pooled connection died with the server, so the outage was met for sure,
        # and it was said to be the database's, not a bug of ours (internal_error).
        assert statuses[503] >= 1, statuses
        assert set(refusals) == {"database_unavailable"}, refusals
        engine.dispose()  # the test's own connections died with the server
        stored = {r["vendor_event_id"]: r["id"] for r in rows(
            engine, "SELECT id, vendor_event_id FROM events")}
        assert len(stored) == CALLBACKS
        assert {v: [stored[v]] for v in accepted} == accepted
        subscriber.wait_for(CALLBACKS, timeout=60)
        time.sleep(1.0)
        sent = Counter(subscriber.webhook_ids())
        assert set(sent) == set(stored.values())
        assert max(sent.values()) == 1, "a delivery was sent twice"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        subscriber.stop()
        engine.dispose()
