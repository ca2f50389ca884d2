"""Expand owed fan-outs: each event ingest marked (events.fanout_owed) becomes one delivery
row per matching target (worker/outbox.plan), in the transaction that clears its mark.

The claim is an UPDATE of the marks, so it takes the rows before anything is read:
PostgreSQL locks them (FOR UPDATE SKIP LOCKED: workers take disjoint batches and never wait
on each other), SQLite takes its write lock at once (a read first would leave a snapshot it
could not write from once a web process commits). A worker killed at any moment rolls the
whole transaction back, mark included, and the next one expands the event afresh; the
unique indexes on (event_id, subscription_id) and (event_id, handler) of non-replay rows
make a second expansion impossible rather than merely unlikely (ON CONFLICT DO NOTHING).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from switchboard.router.projection import FANOUT
from switchboard.store.deliveries import claim_owed, insert_pending
from switchboard.store.wakeup import wake_workers
from switchboard.worker import outbox


def expand(conn: Connection, now: datetime, limit: int) -> tuple[int, int]:
    """Expand up to `limit` owed events, oldest first; return (events, delivery rows).
    An event that became a late receipt since ingest (renormalize) owes nothing."""
    owed = claim_owed(conn, limit)
    if not owed:
        return 0, 0
    routed = [outbox.Routed(row.id, row.type, row.vendor, row.received_at)
              for row in owed if row.disposition == FANOUT]
    rows = outbox.plan(conn, routed, now)
    if rows:
        insert_pending(conn, rows, now)
        wake_workers(conn)  # other workers may share the sending
    return len(owed), len(rows)
