"""The console's reads with 1,000,000 stored events: phone search (admin.search), the home
page's 24 hours (admin.overview) and a subscription's health (admin.subscription_health),
against the events list's first page (admin.events, already indexed) as the baseline, all
measured in the same minutes on the same database.

    python bench/search.py                       # PostgreSQL at 127.0.0.1, 1,000,000 events
    python bench/search.py --database sqlite --events 200000
    python bench/search.py --events 20000 --runs 5   # a quick look

The database is seeded by bench/seed.py (every event from +14165550100, the worst case for
the `from` side, to one of 10,000 customers: ~100 events each) into a scratch database that
is dropped afterwards. Each query runs --runs times after one warm-up; the median is
reported in milliseconds and as a ratio to the baseline. The goal is under 100 ms on
PostgreSQL for every search (the issue's); home and health have none and are reported.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
for _path in (BENCH.parent, BENCH):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from dispatch import pg_database, scratch_url  # noqa: E402
from seed import SEED_SUBSCRIPTION, seed  # noqa: E402

from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.operations.events import EventFilter, list_events  # noqa: E402
from switchboard.operations.overview import overview  # noqa: E402
from switchboard.operations.search import search  # noqa: E402
from switchboard.operations.subscription_health import health  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_search"
GOAL_MS = 100.0


def timed(engine, run, runs: int) -> float:
    with engine.connect() as conn:
        run(conn)  # warm-up: plans and pages cached as in a running server
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            run(conn)
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def second_page(args: dict):
    def run(conn):
        first = search(conn, args)
        if first["next_cursor"]:  # a small seed may give a customer one page only
            search(conn, args | {"cursor": first["next_cursor"]})
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default=DEFAULT_PG_URL,
                        help="'sqlite' or a PostgreSQL URL whose database starts with bench")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url = scratch_url(options.database, Path(workdir))
        postgresql = url.startswith("postgresql")
        if postgresql:
            pg_database(url, create=True)
        engine = make_engine(url)
        try:
            upgrade(engine)
            print(f"seeding {options.events:,} events ...", file=sys.stderr)
            print(f"seeded in {seed(url, events=options.events):.0f} s", file=sys.stderr)
            cases = {
                "baseline: events list, first page": lambda conn: list_events(
                    conn, EventFilter.parse({})),
                "customer (~100 events), first page": lambda conn: search(
                    conn, {"q": "+1 613 555 0042"}),
                "customer, pages 1 and 2 of 20": second_page(
                    {"q": "+16135550042", "limit": "20"}),
                "sender of every event, first page": lambda conn: search(
                    conn, {"q": "+14165550100"}),
                "sender, pages 1 and 2 of 50": second_page({"q": "+14165550100"}),
                "a number with no events": lambda conn: search(conn, {"q": "+447700900123"}),
                "home: the last 24 hours": lambda conn: overview(conn, datetime.now(UTC)),
                "health of the subscription of all": lambda conn: health(
                    conn, SEED_SUBSCRIPTION, datetime.now(UTC)),
            }
            results = {name: timed(engine, run, options.runs) for name, run in cases.items()}
        finally:
            engine.dispose()
            if postgresql:
                pg_database(url, create=False)
    baseline = results.pop("baseline: events list, first page")
    database = "PostgreSQL" if postgresql else "SQLite"
    print(f"{database}, {options.events:,} events, median of {options.runs} runs")
    print(f"{'query':40} {'ms':>8} {'x baseline':>11} {'goal':>6}")
    print(f"{'baseline: events list, first page':40} {baseline:8.2f} {1:11.2f}")
    for name, ms in results.items():
        verdict = "" if not name.startswith(("customer", "sender", "a number")) else \
            "ok" if ms < GOAL_MS else "MISSED"
        print(f"{name:40} {ms:8.2f} {ms / baseline:11.2f} {verdict:>6}")


if __name__ == "__main__":
    main()
