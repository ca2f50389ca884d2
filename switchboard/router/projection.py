"""Message status: the furthest status each message reached, moved forward only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from switchboard.events import STATUS_RANK, TERMINAL_RANK, NormalizedEvent
from switchboard.router.statements import IngestStatements

FANOUT, SUPERSEDED, CONFLICT = "fanout", "superseded", "conflict"


def project(conn: Connection, stmts: IngestStatements, event: NormalizedEvent, event_id: str,
            now: datetime) -> str:
    """Apply one new receipt to its message's status; say whether it is news (fanout), late
    (superseded) or a second, different terminal status (conflict)."""
    status, message_id = event.status, event.message_id
    if status is None or message_id is None or event.data.get("direction") != "outbound":
        return FANOUT
    rank = STATUS_RANK[status]
    created = conn.execute(stmts.insert_status, {
        "vendor": event.vendor, "message_id": message_id, "status": status, "rank": rank,
        "event_id": event_id, "updated_at": now,
    })
    if created.first() is not None:
        return FANOUT
    where = {"w_vendor": event.vendor, "w_message_id": message_id}
    current = conn.execute(stmts.lock_status, where).one()
    disposition = decide(current.status, status)
    if disposition == CONFLICT and current.conflict_status is None:
        conn.execute(stmts.record_conflict, {**where, "conflict_status": status,
                                             "conflict_event_id": event_id, "updated_at": now})
    elif disposition == FANOUT:
        conn.execute(stmts.advance_status, {**where, "status": status, "rank": rank,
                                            "event_id": event_id, "updated_at": now})
    return disposition


def decide(current: str, new: str) -> str:
    """The ladder: forward only; the first terminal status wins and a different later
    terminal one is a conflict (kept for an operator); anything else late is superseded."""
    current_rank, rank = STATUS_RANK[current], STATUS_RANK[new]
    if current_rank == TERMINAL_RANK and rank == TERMINAL_RANK:
        return SUPERSEDED if new == current else CONFLICT
    return FANOUT if rank > current_rank else SUPERSEDED
