"""One large callback: events stored per second from 1,000-message Phonify lists.

    python bench/large_callback.py                  # SQLite, then PostgreSQL if reachable
    python bench/large_callback.py --database sqlite --rounds 5
    python bench/large_callback.py --smoke          # 2 rounds of 50 messages (the test suite)

A relay may post a list of Phonify message objects (SWITCHBOARD_MAX_EVENTS_PER_CALLBACK, 1,000
by default, is the most one callback may carry). Each round posts one such list, every
message new, to Switchboard and the same bytes to bench/bare_app.py, both under the same
gunicorn as bench/ingest.py; rounds alternate bare, Switchboard. The figure is events/s
(messages in a list x lists answered / seconds) for each, and their ratio: what storing the
events costs over receiving and answering the body. Every accepted message must be stored,
checked after the server stops.
"""

from __future__ import annotations

import argparse
import http.client
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from ingest import (  # noqa: E402 - after the path above
    DEFAULT_PG_URL,
    PostgresDatabase,
    Server,
    SQLiteDatabase,
    base_env,
    stop_all,
)

TOKEN = secrets.token_urlsafe(24)


def body(messages: int, tag: str) -> bytes:
    """Short message objects (phonify-api.txt's fields), so 1,000 fit the body limit."""
    return json.dumps([{"id": f"{tag}-{i}", "state": "sent", "to": "+34600000000",
                        "body": "Your order #29211 received",
                        "created_at": "2026-11-22T05:00:00Z"}
                       for i in range(messages)]).encode()


def post(port: int, data: bytes) -> tuple[int, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    started = time.perf_counter()
    conn.request("POST", f"/webhooks/phonify/{TOKEN}", body=data,
                 headers={"Content-Type": "application/json"})
    answer = conn.getresponse()
    answer.read()
    conn.close()
    return answer.status, time.perf_counter() - started


def stored(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM events WHERE vendor = 'phonify'")
                                ).scalar_one()
    finally:
        engine.dispose()


def measure(kind: str, database, opts, workdir: Path) -> dict:
    url = database.fresh(0)
    env = base_env() | {"SWITCHBOARD_DATABASE_URL": url, "SWITCHBOARD_PHONIFY_TOKENS": TOKEN}
    bare, board, accepted, errors = [], [], 0, 0
    with Server("bare_app:app", base_env(), workdir / "bare.log", pythonpath=BENCH) as b, \
            Server("switchboard.wsgi:app", env, workdir / "switchboard.log") as s:
        post(s.port, body(opts.messages, "warm"))  # imports, pool, first plans
        accepted += opts.messages
        for round_ in range(opts.rounds):
            data = body(opts.messages, f"r{round_}")
            status, seconds = post(b.port, data)
            bare.append(opts.messages / seconds)
            status, seconds = post(s.port, data)
            if status == 200:
                accepted += opts.messages
                board.append(opts.messages / seconds)
            else:
                errors += 1
    count = stored(url)
    database.close()
    result = {"database": kind, "messages": opts.messages, "rounds": opts.rounds,
              "events_per_s": statistics.median(board) if board else 0.0,
              "bare_events_per_s": statistics.median(bare), "errors": errors,
              "accepted": accepted, "stored": count}
    result["ratio"] = result["events_per_s"] / result["bare_events_per_s"]
    print(f"  {kind:<10} {result['events_per_s']:9,.0f} events/s  bare "
          f"{result['bare_events_per_s']:9,.0f}  ratio {result['ratio']:.3f}  "
          f"stored {count:,} of {accepted:,}  errors {errors}", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append",
                        help="sqlite or a postgresql+psycopg:// URL; repeatable")
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="2 rounds of 50 messages")
    parser.add_argument("--json", type=Path)
    opts = parser.parse_args(argv)
    if opts.smoke:
        opts.messages, opts.rounds = 50, 2
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="switchboard-large-") as tmp:
            workdir = Path(tmp)
            for spec in opts.database or ["sqlite", DEFAULT_PG_URL]:
                if spec == "sqlite":
                    results.append(measure("sqlite", SQLiteDatabase(workdir), opts, workdir))
                    continue
                database = PostgresDatabase(spec)
                if not database.reachable():
                    print(f"  PostgreSQL does not answer at {spec}: skipped", file=sys.stderr)
                    continue
                results.append(measure("postgresql", database, opts, workdir))
    finally:
        stop_all()
    if opts.json:
        opts.json.write_text(json.dumps({"results": results}, indent=2))
    lost = [r for r in results if r["stored"] != r["accepted"] or r["errors"]]
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
