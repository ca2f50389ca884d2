"""Fleet benchmark: 1,000 callbacks x 50 subscriptions, two workers on PostgreSQL, one of
them killed with SIGKILL halfway; every one of the 50,000 deliveries must arrive.

    python bench/fleet.py        # PostgreSQL at 127.0.0.1:5432, scratch database bench_fleet_<pid>
    python bench/fleet.py --callbacks 100 --subscriptions 10 --json out.json

Two `switchboard worker` processes run against a scratch database while the callbacks are
stored through the real ingest path (each event owed its fan-out, expanded by the workers).
When half of the deliveries have reached bench/sink.py (one path per subscription), worker A
gets SIGKILL, in the middle of whatever it was doing: expanding, sending or recording.
Worker B carries on; what A held is taken over when A's lease (--lease, short here) runs
out. The figures: deliveries that arrived at least once out of those owed, arrivals in all,
duplicates (arrivals of a (subscription, event) pair already seen: at least once allows
them, for what A sent but had not written down), the delivery rows in the database and any
(event, subscription) with more than one, and the time it took. Bounded by --timeout; all
traffic on 127.0.0.1; every process is stopped and the database dropped on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from dispatch import (  # noqa: E402
    ROOT,
    free_port,
    pg_database,
    scratch_url,
    sink_get,
    store_events,
    wait_for_port,
)
from sqlalchemy import text  # noqa: E402

from switchboard import clock  # noqa: E402
from switchboard.config import Settings  # noqa: E402
from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.operations import subscriptions as subs  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_fleet"
SECRET = "whk_bench_fleet_secret"


def database_check(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
        doubled = conn.execute(text(
            "SELECT count(*) FROM (SELECT event_id, subscription_id FROM deliveries "
            "GROUP BY event_id, subscription_id HAVING count(*) > 1) AS d")).scalar_one()
        owed = conn.execute(text(
            "SELECT count(*) FROM events WHERE fanout_owed IS NOT NULL")).scalar_one()
        done = conn.execute(text(
            "SELECT count(*) FROM deliveries WHERE state = 'succeeded'")).scalar_one()
    return {"rows": rows, "rows_doubled": doubled, "owed_left": owed, "succeeded": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default=DEFAULT_URL)
    parser.add_argument("--callbacks", type=int, default=1000)
    parser.add_argument("--subscriptions", type=int, default=50)
    parser.add_argument("--lease", type=float, default=10.0,
                        help="workers' lease, seconds: how soon A's batch is taken over")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    owed = args.callbacks * args.subscriptions

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)  # so the ExitStack below stops what it started

    signal.signal(signal.SIGTERM, terminate)
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        url = scratch_url(args.database, Path(tmp))
        pg_database(url, create=True)
        stack.callback(pg_database, url, False)  # last out: after every process is stopped
        engine = make_engine(url)
        stack.callback(engine.dispose)
        upgrade(engine)
        settings = Settings(database_url=url, vendor_secrets={"honkio": (SECRET,)},
                            allow_private_urls=True)
        env = {**os.environ, "SWITCHBOARD_DATABASE_URL": url,
               "SWITCHBOARD_ALLOW_PRIVATE_URLS": "true", "SWITCHBOARD_DELIVERY_TIMEOUT": "2"}

        def spawn(*argv: str) -> subprocess.Popen:
            process = subprocess.Popen([sys.executable, *argv], env=env, cwd=ROOT,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stack.callback(lambda: (process.kill(), process.wait(timeout=30)))
            return process

        sink_port = free_port()
        spawn(str(BENCH / "sink.py"), str(sink_port))
        wait_for_port(sink_port)
        with engine.begin() as conn:
            for index in range(args.subscriptions):
                subs.create(conn, settings, clock.now(),
                            url=f"http://127.0.0.1:{sink_port}/s{index}", event_types=["*"])
        worker = ["-m", "switchboard.cli", "worker", "--concurrency", "16",
                  "--lease", f"{args.lease:g}"]
        doomed, survivor = spawn(*worker), spawn(*worker)
        time.sleep(2)  # both importing and listening before the first callback
        started = time.monotonic()
        store_events(engine, args.callbacks)
        stored_in = time.monotonic() - started
        deadline = started + args.timeout
        stats = sink_get(sink_port, "/stats")
        while stats["unique"] < owed // 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            stats = sink_get(sink_port, "/stats")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        killed_at = {"after_s": time.monotonic() - started, "arrived": stats["unique"]}
        while stats["unique"] < owed and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = sink_get(sink_port, "/stats")
        took = time.monotonic() - started
        time.sleep(1.0)  # a late duplicate would land now
        stats = sink_get(sink_port, "/stats")
        check = database_check(engine)
        alive = survivor.poll() is None

    figures = {"callbacks": args.callbacks, "subscriptions": args.subscriptions,
               "owed": owed, "arrived_unique": stats["unique"], "arrivals": stats["count"],
               "duplicates": stats["count"] - stats["unique"], "seconds": took,
               "stored_in_s": stored_in, "killed": killed_at, "survivor_alive": alive,
               "lease_s": args.lease, **check}
    print(f"fleet benchmark (postgresql, two workers, one SIGKILLed after "
          f"{killed_at['arrived']:,} of {owed:,} deliveries)")
    for label, value in (
            ("deliveries owed", f"{owed:,}"),
            ("arrived at least once", f"{stats['unique']:,}"),
            ("arrivals in all", f"{stats['count']:,}"),
            ("duplicates (arrived again)", f"{figures['duplicates']:,}"),
            ("delivery rows / doubled (event, subscription)", f"{check['rows']:,} / "
                                                              f"{check['rows_doubled']}"),
            ("events still owed their fan-out", f"{check['owed_left']}"),
            ("seconds, first callback to last arrival", f"{took:.1f}"),
            ("deliveries/s over that time", f"{stats['unique'] / took:,.0f}")):
        print(f"{label:<48}{value:>16}")
    verdict = "met" if stats["unique"] == owed and check["rows_doubled"] == 0 else "MISSED"
    print(f"goal: every delivery arrives at least once, no row doubled: {verdict}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
