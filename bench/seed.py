"""Seed a freshly migrated Switchboard database for the scale benchmarks (bench/ingest.py
--preload-events / --subscriptions).

Preloaded events look like HonkIO delivery receipts that went through ingest and were
delivered: per event a receipt (~400-byte body), an event (data and raw JSON as ingest
writes them, a dedup key and message id spread over the key space so their indexes are
filled the way real traffic fills them), one message_status row per message (two receipts,
sent then delivered, per message) and one succeeded delivery to a subscription that has
since been deleted, so it does not receive the measured callbacks. Every message is from
one sender, +14165550100, to one of 10,000 customers (+16135550000 to +16135559999). Their
times lie in the past, two seconds apart. Attempts rows are not seeded: ingest never reads
or writes them.

Subscriptions are active and all match the benchmark's message.delivered receipts (globs,
exact types and vendor filters mixed), so every accepted callback is owed one delivery per
subscription (expanded by a worker, not by ingest). Their URL is 127.0.0.1's discard port:
no worker runs during the ingest runs.

PostgreSQL is seeded with INSERT ... SELECT over generate_series, SQLite with a recursive
CTE, both from one temporary table of per-row values; then PostgreSQL is VACUUM ANALYZEd and
checkpointed, SQLite's WAL checkpointed, so neither autovacuum nor a checkpoint of the seed
lands in a measured run.
"""
# ruff: noqa: S608 -- the SQL here is built from this module's constants and integers.

from __future__ import annotations

import secrets
import sqlite3
import time
from datetime import UTC, datetime

from sqlalchemy import create_engine, make_url

from switchboard.ids import new_id
from switchboard.models import Subscription

SEED_SUBSCRIPTION = "sub_00000000000000000000seed00"
SUBSCRIPTION_URL = "http://127.0.0.1:9/bench"
# Park-Miller: n -> n * 48271 mod (2^31 - 1) is one-to-one below 2^31 - 1, so keys are
# unique yet land all over their index instead of at its right edge.
SPREAD = "((({n}) * 48271) % 2147483647)"

_PG = {
    "pad24": "lpad(({x})::text, 24, '0')",
    "pad10": "lpad(({x})::text, 10, '0')",
    "series": "generate_series(1::bigint, {count}::bigint) AS s(n)",
    "stamp": "now() - (({count} - n + 1) * 2) * interval '1 second'",
    "later": "ts + interval '1 second'",
    "iso": "to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    "blob": "convert_to({x}, 'UTF8')",
    "json": "({x})::json",
    "false": "false",
}
_SQLITE = {
    "pad24": "printf('%024d', {x})",
    "pad10": "printf('%010d', {x})",
    "series": "s",
    "stamp": "strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (({count} - n + 1) * 2) "
             "|| ' seconds') || '.000000'",
    "later": "strftime('%Y-%m-%d %H:%M:%S', ts, '+1 seconds') || '.000000'",
    "iso": "strftime('%Y-%m-%dT%H:%M:%SZ', ts)",
    "blob": "CAST({x} AS BLOB)",
    "json": "{x}",
    "false": "0",
}


def _statements(dialect: str, count: int) -> list[str]:
    f = _PG if dialect == "postgresql" else _SQLITE

    def fn(name: str, x: str = "") -> str:
        return f[name].replace("{x}", x).replace("{count}", str(count))

    key = fn("pad10", SPREAD.format(n="n"))
    message = fn("pad10", SPREAD.format(n="(n + 1) / 2 + 1073741823"))
    rows = (
        f"SELECT n, {key} AS k, {message} AS m, {fn('stamp')} AS ts, "
        "CASE n % 2 WHEN 1 THEN 'sent' ELSE 'delivered' END AS st FROM " + fn("series"))
    if dialect != "postgresql":
        rows = (f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s "
                f"WHERE n < {count}) " + rows)
    raw = ("'{\"id\": \"evt_s' || k || '\", \"type\": \"message.' || st || '\", "
           "\"created\": \"' || iso || '\", \"account_id\": \"acc_01HXYZ4B5C6D7E8F9G0H1J2K3L\", "
           "\"data\": {\"message_id\": \"msg_s' || m || '\", \"from\": \"+14165550100\", "
           "\"to\": \"+1613555' || substr(m, 7, 4) || '\", \"status\": \"' || st || '\", "
           "\"error_code\": null, "
           "\"segments\": 1, \"price\": \"0.0075\", \"currency\": \"USD\", "
           "\"delivered_at\": \"' || iso || '\", \"network\": \"310260\"}}'")
    data = ("'{\"message_id\": \"msg_s' || m || '\", \"direction\": \"outbound\", "
            "\"status\": \"' || st || '\", \"vendor_status\": \"' || st || '\", "
            "\"from\": \"+14165550100\", \"to\": \"+1613555' || substr(m, 7, 4) || '\", "
            "\"text\": null, "
            "\"parts\": null, \"error_code\": null, "
            "\"account_id\": \"acc_01HXYZ4B5C6D7E8F9G0H1J2K3L\"}'")
    headers = "'{\"X-HonkIO-Event\": \"message.' || st || '\"}'"
    event_id = "'evt_00' || " + fn("pad24", "n")
    receipt_id = "'rcv_00' || " + fn("pad24", "n")
    return [
        "CREATE TEMP TABLE seed_rows AS SELECT n, k, m, ts, st, "
        f"{fn('iso')} AS iso, {fn('later')} AS done FROM ({rows}) AS r",
        "INSERT INTO receipts (id, vendor, received_at, method, content_type, query_string, "
        "headers, body, state, error) "
        f"SELECT {receipt_id}, 'honkio', ts, 'POST', 'application/json', NULL, "
        f"{fn('json', headers)}, "
        f"{fn('blob', raw)}, 'parsed', NULL FROM seed_rows",
        "INSERT INTO events (id, dedup_key, receipt_id, vendor, type, vendor_event_id, "
        "message_id, status, occurred_at, received_at, disposition, data, raw) "
        f"SELECT {event_id}, 'honkio:evt_s' || k, {receipt_id}, 'honkio', 'message.' || st, "
        f"'evt_s' || k, 'msg_s' || m, st, ts, ts, 'fanout', {fn('json', data)}, "
        f"{fn('json', raw)} FROM seed_rows",
        "INSERT INTO message_status (vendor, message_id, status, rank, event_id, updated_at) "
        f"SELECT 'honkio', 'msg_s' || m, st, 100, {event_id}, ts FROM seed_rows "
        "WHERE st = 'delivered'",
        "INSERT INTO deliveries (id, event_id, subscription_id, handler, state, attempts, "
        "next_attempt_at, lease_until, leased_by, replay, created_at, finished_at, "
        "last_error) "
        f"SELECT 'dlv_00' || {fn('pad24', 'n')}, {event_id}, '{SEED_SUBSCRIPTION}', NULL, "
        f"'succeeded', 1, ts, NULL, NULL, {fn('false')}, ts, done, NULL FROM seed_rows",
        "DROP TABLE seed_rows",
    ]


def _subscription_rows(count: int, now: datetime) -> list[dict]:
    # Every one matches a HonkIO message.delivered receipt, by different kinds of filter.
    shapes = [(["*"], None), (["message.*"], None), (["message.delivered"], None),
              (["message.*"], ["honkio"]), (["message.failed", "message.delivered"], None)]
    rows = []
    for i in range(count):
        types, vendors = shapes[i % len(shapes)]
        rows.append({"id": new_id("sub"), "url": f"{SUBSCRIPTION_URL}/{i}",
                     "event_types": types, "vendors": vendors,
                     "description": f"bench subscription {i}", "active": True,
                     "secret": "whsec_" + secrets.token_urlsafe(24), "previous_secret": None,
                     "previous_secret_until": None, "failing_since": None,
                     "disabled_reason": None, "created_at": now, "deleted_at": None})
    return rows


def seed(url: str, events: int = 0, subscriptions: int = 0) -> float:
    """Seed a migrated database; return the seconds it took."""
    started = time.monotonic()
    now = datetime.now(UTC)
    subs = _subscription_rows(subscriptions, now)
    if events:
        subs.append(_subscription_rows(1, now)[0] | {
            "id": SEED_SUBSCRIPTION, "active": False, "deleted_at": now,
            "description": "deleted; the preloaded deliveries went to it"})
    engine = create_engine(url)
    try:
        if subs:
            with engine.begin() as conn:
                conn.execute(Subscription.__table__.insert(), subs)
        if engine.dialect.name == "postgresql":
            _seed_postgresql(engine, events)
        else:
            engine.dispose()
            _seed_sqlite(make_url(url).database, events)
    finally:
        engine.dispose()
    return time.monotonic() - started


def _seed_postgresql(engine, events: int) -> None:
    if events:
        with engine.begin() as conn:
            # On psycopg's own cursor: with no parameters it leaves `%` (modulo) alone.
            with conn.connection.driver_connection.cursor() as cursor:
                for statement in _statements("postgresql", events):
                    cursor.execute(statement)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        try:
            conn.exec_driver_sql("CHECKPOINT")
        except Exception:  # noqa: S110 -- needs a privileged role; only a nicety
            pass


def _seed_sqlite(path: str, events: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA cache_size=-1000000")  # ~1 GB, this connection only
        conn.execute("PRAGMA temp_store=FILE")
        if events:
            conn.execute("BEGIN")
            for statement in _statements("sqlite", events):
                conn.execute(statement)
            conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
