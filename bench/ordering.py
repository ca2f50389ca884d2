"""Ordering benchmark: what ordered delivery costs a worker, and that it holds under failures.

    python bench/ordering.py                 # SQLite
    python bench/ordering.py --database postgresql+psycopg://postgres@127.0.0.1:5432/bench_ordering
    python bench/ordering.py --smoke         # tiny, for the test suite
    python bench/ordering.py --json out.json # also the figures as JSON (bench/scale.py)

1. Throughput: N distinct messages x 3 events each (accepted, sent, delivered, stored one
   message after the other through the real ingest path, so each message's three deliveries
   sit side by side in the backlog), one subscription to bench/sink.py. One
   `switchboard worker` process (concurrency 16) delivers them all, expansion included;
   deliveries/s is measured at the sink from the first arrival to the last. The baseline is
   the same backlog without ordering, in the same run: every delivery and attempt is deleted,
   each event owed its fan-out again, and its `sequence` set to NULL, which the claim reads
   as "not ordered" (same rows, same statements). Runs alternate ordered, unordered
   (--rounds 2: then unordered, ordered), each on a freshly vacuumed table on PostgreSQL.
   Beside the rate, the CPU a delivery took (the worker's, and on PostgreSQL its server
   processes'): on a machine other work shares, the rate swings with the neighbours and
   the CPU much less.
2. Failures: one message with 200 events (HonkIO verification.* receipts, which all fan
   out), to a sink that answers 500 to every third POST once (RETRY_SCHEDULE 0,0.2,...):
   every event must arrive, once accepted, in sequence order.
All traffic is to 127.0.0.1, bounded in count and time; every process is stopped on exit.
A PostgreSQL run uses a scratch database bench_ordering_<pid>, dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for _path in (ROOT, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from dispatch import (  # noqa: E402
    free_port,
    pg_database,
    scratch_url,
    sink_get,
    wait_count,
    wait_for_port,
)
from sqlalchemy import make_url, text  # noqa: E402

from switchboard import clock  # noqa: E402
from switchboard.config import Settings  # noqa: E402
from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.operations import subscriptions as subs  # noqa: E402
from switchboard.router.ingest import ingest  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402
from switchboard.vendors import honkio  # noqa: E402
from switchboard.vendors.base import Inbound  # noqa: E402

SECRET = "whk_bench_ordering_secret"
RATIO_GOAL = 0.9
RETRY_SCHEDULE = "0,0.2,0.5,1,2,5"


def body(type_: str, message_id: str, status: str | None) -> bytes:
    data = {"message_id": message_id, "to": "+16135550199"}
    if status:
        data["status"] = status
    return json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": type_,
                       "created": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                       "account_id": "acc_bench", "data": data}).encode()


def store(engine, bodies) -> float:
    """Each body through the real ingest path; returns the seconds it took."""
    vendor = honkio.vendor
    started = time.perf_counter()
    for raw in bodies:
        inbound = Inbound("honkio", "POST", raw, headers={})
        ingest(engine, inbound, vendor.kept_headers, vendor.parse(inbound, None), clock.now())
    return time.perf_counter() - started


def three_per_message(messages: int):
    for _ in range(messages):
        message_id = f"msg_{uuid.uuid4().hex}"
        for status in ("accepted", "sent", "delivered"):
            yield body(f"message.{status}", message_id, status)


def cpu_seconds(pids) -> dict[int, float]:
    """User and system CPU of each of these processes so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / tick
    return used


def worker_pids(engine, worker: subprocess.Popen) -> list[int]:
    """The worker process, and on PostgreSQL the server processes of this database's
    connections (the worker's pool; this script's own connection only waits)."""
    if engine.dialect.name != "postgresql":
        return [worker.pid]
    with engine.connect() as conn:
        backends = conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).scalars().all()
    return [worker.pid, *backends]


def reset(engine, ordered: bool) -> None:
    """The backlog as ingest left it: no delivery, every fan-out owed; the saved sequences
    back, or none (unordered)."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM attempts"))
        conn.execute(text("DELETE FROM deliveries"))
        conn.execute(text("UPDATE events SET fanout_owed = true, sequence = NULL"))
        if ordered:
            conn.execute(text("UPDATE events SET sequence = s.sequence FROM bench_sequences "
                              "AS s WHERE events.id = s.id"))
    if engine.dialect.name == "postgresql":
        # Statistics of deliveries stay those of the full table: taken now, on the emptied
        # one, they make the claim sort every due row (see README, Running in production).
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE events"))
            conn.execute(text("VACUUM deliveries"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--chain", type=int, default=200, help="events of the one message")
    parser.add_argument("--rounds", type=int, default=1,
                        help="1: ordered, unordered; 2: ordered, unordered, unordered, ordered")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.smoke:
        args.messages, args.chain = 100, 20

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)  # so the ExitStack below stops what it started

    signal.signal(signal.SIGTERM, terminate)

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        url = scratch_url(args.database, workdir)
        backend = make_url(url).get_backend_name()
        if backend == "postgresql":
            pg_database(url, create=True)
            stack.callback(pg_database, url, False)  # last out
        engine = make_engine(url)
        upgrade(engine)
        settings = Settings(database_url=url, vendor_secrets={"honkio": (SECRET,)},
                            allow_private_urls=True)
        env = {**os.environ, "SWITCHBOARD_DATABASE_URL": url,
               "SWITCHBOARD_HONKIO_SECRETS": SECRET, "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true",
               "SWITCHBOARD_RETRY_SCHEDULE": RETRY_SCHEDULE}

        def spawn(*argv: str) -> subprocess.Popen:
            process = subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(stop, process)
            return process

        sink_port, failing_port = free_port(), free_port()
        spawn(str(BENCH / "sink.py"), str(sink_port))
        spawn(str(BENCH / "sink.py"), str(failing_port), "3")
        wait_for_port(sink_port)
        wait_for_port(failing_port)
        with engine.begin() as conn:
            subs.create(conn, settings, clock.now(),
                        url=f"http://127.0.0.1:{sink_port}/in",
                        event_types=["message.*"])

        # 1. throughput, ordered against unordered
        total = 3 * args.messages
        ingest_seconds = store(engine, three_per_message(args.messages))
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE bench_sequences AS SELECT id, sequence FROM events"))
        pattern = ["ordered", "unordered", "unordered", "ordered"][:2 * max(1, args.rounds)]
        runs: list[dict] = []
        for index, kind in enumerate(pattern):
            if index:
                reset(engine, ordered=kind == "ordered")
            sink_get(sink_port, "/reset")
            worker = spawn("-m", "switchboard.cli", "worker", "--concurrency", "16")
            # CPU used while delivering (server processes included), from the first arrival
            # (start-up left out) until the last, read before the worker stops.
            first = wait_count(sink_port, 1, timeout=60)["count"]
            before = cpu_seconds(worker_pids(engine, worker))
            stats = wait_count(sink_port, total, timeout=900)
            after = cpu_seconds(worker_pids(engine, worker))
            cpu = sum(used - before.get(pid, 0.0) for pid, used in after.items())
            stop(worker)
            span = (stats["last"] or 0) - (stats["first"] or 0)
            per_second = (stats["count"] - 1) / span if span > 0 else float("nan")
            in_order = all(s is None for s in stats["sequences"]) if kind == "unordered" \
                else None
            runs.append({"kind": kind, "deliveries_per_s": per_second,
                         "cpu_ms_per_delivery": cpu * 1000 / max(1, stats["count"] - first),
                         "delivered": stats["count"], "unique": stats["unique"],
                         "sequences_null": in_order})
            print(f"  {kind:<10} {per_second:8.0f} deliveries/s, "
                  f"{runs[-1]['cpu_ms_per_delivery']:.2f} CPU ms each "
                  f"({stats['count']}/{total})", file=sys.stderr)

        # 2. one message, 200 events, every third POST refused once
        with engine.begin() as conn:
            conn.execute(text("UPDATE subscriptions SET active = false"))
            subs.create(conn, settings, clock.now(), url=f"http://127.0.0.1:{failing_port}/one",
                        event_types=["verification.*"])
        message_id = f"msg_{uuid.uuid4().hex}"
        store(engine, (body("verification.attempted", message_id, None)
                       for _ in range(args.chain)))
        worker = spawn("-m", "switchboard.cli", "worker", "--concurrency", "16")
        started = time.monotonic()
        chain = wait_count(failing_port, args.chain, timeout=300)
        chain_seconds = time.monotonic() - started
        stop(worker)
        engine.dispose()

    def median(kind: str, figure: str = "deliveries_per_s") -> float:
        return statistics.median(r[figure] for r in runs if r["kind"] == kind)

    ordered, unordered = median("ordered"), median("unordered")
    cpu_ordered = median("ordered", "cpu_ms_per_delivery")
    cpu_unordered = median("unordered", "cpu_ms_per_delivery")
    arrived = chain["sequences"]
    chain_ok = arrived == list(range(1, args.chain + 1)) and chain["unique"] == args.chain
    print(f"ordering benchmark ({backend}, one worker, concurrency 16)")
    print(f"{'measure':<46}{'value':>12}")
    print(f"{'events stored (3 per message), events/s':<46}{total / ingest_seconds:>12.0f}")
    print(f"{'deliveries/s, ordered':<46}{ordered:>12.0f}")
    print(f"{'deliveries/s, unordered (same backlog)':<46}{unordered:>12.0f}")
    print(f"{'ratio ordered / unordered (goal >= 0.9)':<46}{ordered / unordered:>12.2f}")
    print(f"{'CPU ms a delivery, ordered / unordered':<46}"
          f"{cpu_ordered:>5.2f} / {cpu_unordered:<5.2f}")
    print(f"{'deliveries a CPU second, ordered / unordered':<46}"
          f"{cpu_unordered / cpu_ordered:>12.2f}")
    print(f"{'one message: accepted / events':<46}{len(arrived):>6} / {args.chain:<5}")
    print(f"{'one message: refused once (500), retried':<46}{chain['refused']:>12}")
    print(f"{'one message: arrived in sequence order':<46}{'yes' if chain_ok else 'NO':>12}")
    print(f"{'one message: seconds, first to last':<46}{chain_seconds:>12.1f}")
    if args.json:
        args.json.write_text(json.dumps({
            "database": backend, "messages": args.messages, "events": total,
            "runs": runs, "ordered_per_s": ordered, "unordered_per_s": unordered,
            "ratio": ordered / unordered, "ratio_goal": RATIO_GOAL,
            "cpu_ms_ordered": cpu_ordered, "cpu_ms_unordered": cpu_unordered,
            "cpu_ratio": cpu_unordered / cpu_ordered,
            "chain_events": args.chain, "chain_accepted": len(arrived),
            "chain_refused": chain["refused"], "chain_in_order": chain_ok,
            "chain_seconds": chain_seconds,
        }, indent=2))
    if not chain_ok or any(r["delivered"] < total for r in runs):
        sys.exit(1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
