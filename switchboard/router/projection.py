"""Message status: the furthest status each message reached, moved forward only."""

from __future__ import annotations

from datetime import datetime

from switchboard.events import STATUS_RANK, TERMINAL_RANK
from switchboard.store.db import RawTransaction
from switchboard.store.statements import IngestSql

FANOUT, SUPERSEDED, CONFLICT = "fanout", "superseded", "conflict"


def project(tx: RawTransaction, sql: IngestSql, sent, now: datetime, at) -> str:
    """Apply one new receipt to its message's status; say whether it is news (fanout), late
    (superseded) or a second, different terminal status (conflict).

    `sent` is ingest's pending event, its answers read: its status insert (only for an
    outbound receipt with a status and a message id) was sent with the event insert;
    `status_created` says the message is new and this receipt is its first status."""
    if sent.status_created is None or sent.status_created:
        return FANOUT
    event, event_id = sent.event, sent.event_id
    status = event.status
    where = (event.vendor, event.message_id)
    current_status, _rank, conflict_status = tx.execute(sql.lock_status, where).fetchone()
    disposition = decide(current_status, status)
    if disposition == CONFLICT and conflict_status is None:
        tx.execute(sql.record_conflict, (status, event_id, at(now), *where))
    elif disposition == FANOUT:
        tx.execute(sql.advance_status, (status, STATUS_RANK[status], event_id, at(now),
                                        *where))
    return disposition


def decide(current: str, new: str) -> str:
    """The ladder: forward only; the first terminal status wins and a different later
    terminal one is a conflict (kept for an operator); anything else late is superseded."""
    current_rank, rank = STATUS_RANK[current], STATUS_RANK[new]
    if current_rank == TERMINAL_RANK and rank == TERMINAL_RANK:
        return SUPERSEDED if new == current else CONFLICT
    return FANOUT if rank > current_rank else SUPERSEDED
