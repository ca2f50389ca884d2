"""The provider scorecard and the overdue check with a million messages on PostgreSQL.

    python bench/scorecard.py                   # 1,000,000 messages (what `make bench` runs)
    python bench/scorecard.py --messages 20000  # quicker
    python bench/scorecard.py --json out.json

A scratch database (bench_scorecard_<pid>, dropped at the end) is migrated and seeded with
N message_status rows as ingest leaves them: five vendors, twelve countries, 85% delivered
(most with a time to deliver), 7% failed with a reason, 8% still pending with their latest
receipts spread over 30 days (some already overdue), every first receipt in the last 7
days. Then, each the median of --runs:
- GET /api/stats/providers over all of them (the default window), through the app;
- the workers' overdue check: EXPLAIN ANALYZE of its claim (the database's own time, which
  the issue's 50 ms goal is about) and one whole check of a batch, both rolled back.
No timing is asserted anywhere: this prints figures against the goals.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import make_url, text  # noqa: E402

from switchboard import clock  # noqa: E402
from switchboard.models.migrate import upgrade  # noqa: E402
from switchboard.store.db import make_engine  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_scorecard"
API_GOAL_S = 2.0
OVERDUE_GOAL_MS = 50.0
TIMEOUT = 86400

SEED = """
INSERT INTO message_status (vendor, message_id, status, rank, event_id, updated_at, reason,
    permanent, country, first_receipt_at, last_receipt_at, accepted_at, delivered_at,
    overdue_at)
SELECT (ARRAY['honkio','canary','boomware','transmitsms','phonify'])[1 + n % 5],
       'msg_' || n,
       CASE WHEN n % 100 < 85 THEN 'delivered' WHEN n % 100 < 92 THEN 'undelivered'
            WHEN n % 100 < 96 THEN 'sent' ELSE 'accepted' END,
       CASE WHEN n % 100 < 92 THEN 100 WHEN n % 100 < 96 THEN 20 ELSE 10 END,
       'evt_' || n, :now,
       CASE WHEN n % 100 BETWEEN 85 AND 91
            THEN (ARRAY['unreachable','invalid_number','blocked','unknown'])[1 + n % 4] END,
       CASE WHEN n % 100 BETWEEN 85 AND 91 THEN n % 2 = 0 END,
       (ARRAY['CA','US','GB','AU','EE','ES','IN','DE','FR','BR','MX',NULL])[1 + n % 12],
       :now - (n % 604000 || ' seconds')::interval,
       CASE WHEN n % 100 < 92 THEN :now - (n % 604000 || ' seconds')::interval
            ELSE :now - (n % 2592000 || ' seconds')::interval END,
       CASE WHEN n % 7 <> 0 THEN :now - (n % 604000 + 600 || ' seconds')::interval END,
       CASE WHEN n % 100 < 85 THEN :now - (n % 604000 + n % 500 || ' seconds')::interval END,
       CASE WHEN n % 100 >= 92 AND n % 3 = 0 THEN :now END
FROM generate_series(1, :rows) AS n
"""


def scratch(url: str) -> tuple[str, object, str]:
    base = make_url(url)
    name = f"{base.database}_{os.getpid()}"
    if not name.startswith("bench"):
        raise SystemExit("the database name must start with 'bench'")
    admin = make_engine(base.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return base.set(database=name).render_as_string(hide_password=False), admin, name


def seed(engine, rows: int, now: datetime) -> float:
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(SEED), {"now": now, "rows": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE message_status"))
    return time.perf_counter() - started


def time_api(url: str, runs: int) -> tuple[list[float], dict]:
    from switchboard.app import create_app

    app = create_app({"database_url": url, "admin_token": "bench-admin-token"})
    client = app.test_client()
    times, answer = [], {}
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get("/api/stats/providers",
                              headers={"Authorization": "Bearer bench-admin-token"})
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.get_data(as_text=True)
        answer = response.get_json()
    app.extensions["switchboard"].engine.dispose()
    return times, answer


def time_overdue(engine, runs: int, now: datetime) -> tuple[list[float], list[float], str, int]:
    from switchboard.store.overdue import CLAIM
    from switchboard.worker import overdue

    compiled = CLAIM.compile(dialect=engine.dialect)
    params = compiled.params | {"cutoff": now - timedelta(seconds=TIMEOUT),
                                "limit": overdue.BATCH, "now": now}
    explained, whole, plan, made = [], [], "", 0
    for _ in range(runs):
        with engine.connect() as conn:
            with conn.begin() as tx:
                (result,) = conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), params).one()
                result = result if isinstance(result, list) else json.loads(result)
                explained.append(result[0]["Planning Time"] + result[0]["Execution Time"])
                plan = json.dumps(result[0]["Plan"])
                tx.rollback()
            with conn.begin() as tx:
                started = time.perf_counter()
                made = overdue.check_batch(conn, TIMEOUT, now, overdue.BATCH)
                whole.append(time.perf_counter() - started)
                tx.rollback()
    return explained, whole, plan, made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default=DEFAULT_URL)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(argv)
    now = datetime.now(UTC).replace(microsecond=0)
    clock.now = lambda: now  # the API's default window ends at this same moment
    url, admin, name = scratch(opts.database)
    engine = make_engine(url)
    try:
        upgrade(engine)
        seeded = seed(engine, opts.messages, now)
        print(f"seeded {opts.messages:,} messages in {seeded:.0f} s", file=sys.stderr)
        api, answer = time_api(url, opts.runs)
        explained, whole, plan, made = time_overdue(engine, opts.runs, now)
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    counted = sum(row["messages"] for row in answer["providers"])
    result = {
        "messages": opts.messages, "in_window": counted, "rows": len(answer["providers"]),
        "api_s": statistics.median(api), "api_runs_s": api,
        "overdue_claim_ms": statistics.median(explained), "overdue_claim_runs_ms": explained,
        "overdue_batch_s": statistics.median(whole), "overdue_batch_made": made,
        "overdue_uses_index": "ix_message_status_overdue" in plan,
    }
    print(f"GET /api/stats/providers, {counted:,} messages in the window, "
          f"{len(answer['providers'])} rows: {result['api_s']:.2f} s median of {opts.runs} "
          f"(goal < {API_GOAL_S:.0f} s: {'met' if result['api_s'] < API_GOAL_S else 'MISSED'})")
    print(f"overdue check claim, database time (EXPLAIN ANALYZE): "
          f"{result['overdue_claim_ms']:.1f} ms median, {made} messages claimed, "
          f"index {'used' if result['overdue_uses_index'] else 'NOT used'} "
          f"(goal < {OVERDUE_GOAL_MS:.0f} ms: "
          f"{'met' if result['overdue_claim_ms'] < OVERDUE_GOAL_MS else 'MISSED'}); "
          f"one whole batch with its events: {result['overdue_batch_s'] * 1000:.0f} ms")
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
