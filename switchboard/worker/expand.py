"""Expand owed fan-outs: each event ingest marked (events.fanout_owed) becomes one delivery
row per matching target (router/outbox.plan), in the transaction that clears its mark.

The claim is an UPDATE of the marks, so it takes the rows before anything is read:
PostgreSQL locks them (FOR UPDATE SKIP LOCKED: workers take disjoint batches and never wait
on each other), SQLite takes its write lock at once (a read first would leave a snapshot it
could not write from once a web process commits). A worker killed at any moment rolls the
whole transaction back, mark included, and the next one expands the event afresh; the
unique indexes on (event_id, subscription_id) and (event_id, handler) of non-replay rows
make a second expansion impossible rather than merely unlikely (ON CONFLICT DO NOTHING).
"""
# ruff: noqa: S608 -- every piece put into this SQL is a constant of this module; values
# always travel as driver parameters.

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from switchboard.models import Event
from switchboard.router import outbox
from switchboard.router.projection import FANOUT
from switchboard.store.statements import time_writer
from switchboard.store.wakeup import wake_workers

_e = Event.__table__

CLAIM_OWED = (
    update(_e)
    .where(_e.c.id.in_(
        select(_e.c.id).where(_e.c.fanout_owed.is_not(None)).order_by(_e.c.id)
        .limit(bindparam("limit")).with_for_update(skip_locked=True).scalar_subquery()))
    .values(fanout_owed=None)
    .returning(_e.c.id, _e.c.type, _e.c.vendor, _e.c.received_at, _e.c.disposition)
)

_COLUMNS = ("id", "event_id", "subscription_id", "handler", "state", "attempts",
            "next_attempt_at", "lease_until", "leased_by", "replay", "created_at",
            "finished_at", "last_error")


def _insert_deliveries(postgresql: bool) -> str:
    """Every row of a batch in one statement, from one JSON array of [id, event_id,
    subscription_id, handler] rows: cheaper than an executemany on both drivers. SQLite
    needs the WHERE to parse ON CONFLICT after a SELECT."""
    if postgresql:
        source, mark, false = "json_array_elements(%s::json) AS t(value)", "%s", "false"
        picked = ", ".join(f"t.value ->> {i}" for i in range(4))
    else:
        source, mark, false = "json_each(?) AS t", "?", "0"
        picked = ", ".join(f"json_extract(t.value, '$[{i}]')" for i in range(4))
    return (f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) "
            f"SELECT {picked}, 'pending', 0, {mark}, NULL, NULL, {false}, {mark}, NULL, NULL "
            f"FROM {source} WHERE true ON CONFLICT DO NOTHING")


INSERT_DELIVERIES = {"postgresql": _insert_deliveries(True), "sqlite": _insert_deliveries(False)}


def expand(conn: Connection, now: datetime, limit: int) -> tuple[int, int]:
    """Expand up to `limit` owed events, oldest first; return (events, delivery rows).
    An event that became a late receipt since ingest (renormalize) owes nothing."""
    owed = conn.execute(CLAIM_OWED, {"limit": limit}).all()
    if not owed:
        return 0, 0
    routed = [outbox.Routed(row.id, row.type, row.vendor, row.received_at)
              for row in owed if row.disposition == FANOUT]
    rows = outbox.plan(conn, routed, now)
    if rows:
        dialect = conn.dialect.name
        moment = time_writer(dialect)(now)
        conn.exec_driver_sql(INSERT_DELIVERIES[dialect], (moment, moment, json.dumps(
            [[r["id"], r["event_id"], r["subscription_id"], r["handler"]] for r in rows])))
        wake_workers(conn)  # other workers may share the sending
    return len(owed), len(rows)
