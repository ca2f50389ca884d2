"""Dispatch benchmark: deliveries per second from one worker, and ingest->subscriber latency.

    python bench/dispatch.py                 # SQLite
    python bench/dispatch.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_dispatch
    python bench/dispatch.py --smoke         # tiny, for the test suite
    python bench/dispatch.py --json out.json # also the figures as JSON (bench/scale.py)

1. Throughput: N events with one subscription each are stored first (through the real
   ingest path), then one `switchboard worker` process sends them to bench/sink.py, a
   keep-alive asyncio subscriber that answers 200 at once. Deliveries/s is measured from the
   first arrival to the last. The baseline, in the same run, is a plain loop of `requests`
   POSTs of the same payload to the same sink.
   Ingest only marks each event owed its fan-out: the worker's figure includes expanding it
   into its delivery row.
2. Latency: gunicorn (sync, 2 workers) and one worker serve Switchboard while a steady load
   of signed HonkIO callbacks arrives, each owed to 5 subscriptions (--latency-subscriptions);
   the sink measures each event's received_at to each arrival. Goals: >= 1,000
   deliveries/s, p50 <= 100 ms, p99 <= 500 ms at 200 callbacks/s.
All traffic is to 127.0.0.1, bounded in count and time; every process is stopped on exit.
A PostgreSQL run uses a scratch database named after the URL's and this process
(`bench_dispatch_<pid>`: the name must start with "bench"), dropped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import make_url, text  # noqa: E402

from switchboard import clock  # noqa: E402
from switchboard.config import Settings  # noqa: E402
from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.operations import subscriptions as subs  # noqa: E402
from switchboard.router.ingest import ingest  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402
from switchboard.vendors import honkio  # noqa: E402
from switchboard.vendors.base import Inbound  # noqa: E402

SECRET = "whk_bench_dispatch_secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def sink_get(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    body = conn.getresponse().read()
    conn.close()
    return json.loads(body) if body.startswith(b"{") else {}


def honkio_body(now) -> bytes:
    return json.dumps({
        "id": f"evt_{uuid.uuid4().hex}", "type": "message.delivered",
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "account_id": "acc_bench",
        "data": {"message_id": f"msg_{uuid.uuid4().hex}", "to": "+16135550199",
                 "status": "delivered"}}).encode()


def scratch_url(spec: str, workdir: Path) -> str:
    if spec == "sqlite":
        return f"sqlite:///{workdir / 'dispatch.db'}"
    url = make_url(spec)
    if not (url.database or "").startswith("bench"):
        raise SystemExit("the PostgreSQL database name must start with 'bench' (it is dropped)")
    if (url.host or "127.0.0.1") not in {"127.0.0.1", "localhost"}:
        raise SystemExit("PostgreSQL must be on 127.0.0.1")
    # Our own name, so two benchmarks never drop each other's database.
    return url.set(database=f"{url.database}_{os.getpid()}").render_as_string(
        hide_password=False)


def pg_database(url: str, create: bool) -> None:
    """Drop the scratch database, and create it again if asked."""
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            if create:
                conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    finally:
        admin.dispose()


def store_events(engine, count: int) -> None:
    vendor = honkio.vendor
    for _ in range(count):
        inbound = Inbound("honkio", "POST", honkio_body(clock.now()), headers={})
        ingest(engine, inbound, vendor.kept_headers, vendor.parse(inbound, None), clock.now())


def wait_count(port: int, count: int, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = sink_get(port, "/stats")
        if stats["count"] >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


def requests_baseline(port: int, count: int) -> float:
    payload = honkio_body(clock.now())
    session = requests.Session()
    started = time.perf_counter()
    for _ in range(count):
        session.post(f"http://127.0.0.1:{port}/baseline", data=payload,
                     headers={"content-type": "application/json", "webhook-id": "baseline"},
                     timeout=10)
    return count / (time.perf_counter() - started)


def steady_load(port: int, rate: float, seconds: float) -> int:
    """Signed callbacks at a fixed rate from 4 threads; returns how many were accepted."""
    accepted = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    interval = 4 / rate

    def run() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        next_at = time.monotonic()
        while next_at < stop_at:
            body = honkio_body(clock.now())
            stamp = str(int(time.time()))
            conn.request("POST", "/webhooks/honkio", body=body, headers={
                "Content-Type": "application/json", honkio.TIMESTAMP: stamp,
                honkio.SIGNATURE: honkio.sign(SECRET, stamp, body),
                honkio.EVENT: "message.delivered"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                with lock:
                    accepted[0] += 1
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return accepted[0]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200.0, help="callbacks/s, latency phase")
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase length")
    parser.add_argument("--latency-subscriptions", type=int, default=5,
                        help="subscriptions each callback of the latency phase is owed to")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.smoke:
        args.events, args.rate, args.seconds = 100, 40.0, 1.5

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)  # so the ExitStack below stops what it started

    signal.signal(signal.SIGTERM, terminate)

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        url = scratch_url(args.database, workdir)
        if make_url(url).get_backend_name() == "postgresql":
            pg_database(url, create=True)
            # Last out: after every process using it is stopped.
            stack.callback(pg_database, url, False)
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(database_url=url, vendor_secrets={"honkio": (SECRET,)},
                            allow_private_urls=True)
        python = sys.executable
        env = {**os.environ, "SWITCHBOARD_DATABASE_URL": url,
               "SWITCHBOARD_HONKIO_SECRETS": SECRET, "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true"}

        def spawn(*argv: str) -> subprocess.Popen:
            process = subprocess.Popen([python, *argv], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(lambda: (process.terminate(), process.wait(timeout=30)))
            return process

        sink_port = free_port()
        spawn(str(ROOT / "bench" / "sink.py"), str(sink_port))
        wait_for_port(sink_port)
        with engine.begin() as conn:
            subs.create(conn, settings, clock.now(), url=f"http://127.0.0.1:{sink_port}/in",
                        event_types=["*"])

        # 1. throughput
        store_events(engine, args.events)
        spawn("-m", "switchboard.cli", "worker", "--concurrency", "16")
        stats = wait_count(sink_port, args.events, timeout=120)
        span = (stats["last"] or 0) - (stats["first"] or 0)
        per_second = (stats["count"] - 1) / span if span > 0 else float("nan")
        baseline = requests_baseline(sink_port, max(50, args.events // 5))

        # 2. latency under a steady ingest load
        with engine.begin() as conn:
            for index in range(2, args.latency_subscriptions + 1):
                subs.create(conn, settings, clock.now(),
                            url=f"http://127.0.0.1:{sink_port}/in{index}", event_types=["*"])
        sink_get(sink_port, "/reset")
        web_port = free_port()
        spawn("-m", "gunicorn", "--bind", f"127.0.0.1:{web_port}", "--workers", "2",
              "switchboard.wsgi:app")
        wait_for_port(web_port)
        sent = steady_load(web_port, args.rate, args.seconds)
        latency = wait_count(sink_port, sent * args.latency_subscriptions, timeout=60)
        engine.dispose()

    lat = latency["latencies_ms"]
    print(f"dispatch benchmark ({make_url(url).get_backend_name()}, one worker, "
          f"concurrency 16)")
    print(f"{'measure':<40}{'value':>12}")
    print(f"{'deliveries/s (worker -> sink)':<40}{per_second:>12.0f}")
    print(f"{'requests.Session POST loop/s (baseline)':<40}{baseline:>12.0f}")
    print(f"{'ratio worker / requests loop':<40}{per_second / baseline:>12.2f}")
    print(f"{'delivered / stored':<40}{stats['count']:>6} / {args.events:<5}")
    print(f"{'unique (subscription, event) / arrived':<40}{stats['unique']:>6} / "
          f"{stats['count']:<5}")
    print(f"{'ingest->subscriber p50 ms':<40}{percentile(lat, 0.5):>12.1f}")
    print(f"{'ingest->subscriber p99 ms':<40}{percentile(lat, 0.99):>12.1f}")
    print(f"{'latency phase: accepted x subs / arrived':<40}"
          f"{sent * args.latency_subscriptions:>6} / {latency['count']:<5}")
    print("goals: >= 1000 deliveries/s, p50 <= 100 ms, p99 <= 500 ms")
    if args.json:
        args.json.write_text(json.dumps({
            "database": make_url(url).get_backend_name(), "worker_concurrency": 16,
            "events": args.events, "delivered": stats["count"], "unique": stats["unique"],
            "deliveries_per_s": per_second, "requests_loop_per_s": baseline,
            "latency_rate": args.rate, "latency_seconds": args.seconds,
            "latency_subscriptions": args.latency_subscriptions,
            "latency_accepted": sent, "latency_delivered": latency["count"],
            "latency_p50_ms": percentile(lat, 0.5), "latency_p99_ms": percentile(lat, 0.99),
        }, indent=2))


if __name__ == "__main__":
    main()
