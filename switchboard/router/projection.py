"""Message status: the furthest status each message reached, moved forward only; with it,
what the scorecard and the overdue check read (why it failed, where it went, when)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from switchboard.events import STATUS_RANK, TERMINAL_RANK, NormalizedEvent
from switchboard.observability.metrics import MESSAGES_TERMINAL, TIME_TO_DELIVER
from switchboard.store.db import RawTransaction
from switchboard.store.statements import IngestSql, read_time

FANOUT, SUPERSEDED, CONFLICT = "fanout", "superseded", "conflict"
# The statuses whose first receipt starts the time to deliver.
PENDING_STATUSES = frozenset({"accepted", "sent"})
DELIVERED = "delivered"


class Terminal(NamedTuple):
    """A terminal status a receipt gave its message: counted once the receipt is committed."""

    vendor: str
    status: str
    reason: str | None
    seconds_to_deliver: float | None  # first accepted/sent to delivered, provider times


def first_facts(event: NormalizedEvent, occurred_at, received_at) -> tuple:
    """reason, permanent, country, first_receipt_at, last_receipt_at, accepted_at and
    delivered_at of the status row a message's first receipt starts (times as the driver
    takes them)."""
    data = event.data
    return (data.get("reason"), data.get("permanent"), data.get("country"), received_at,
            received_at, occurred_at if event.status in PENDING_STATUSES else None,
            occurred_at if event.status == DELIVERED else None)


def project(tx: RawTransaction, sql: IngestSql, sent, now: datetime, at) -> str:
    """Apply one new receipt to its message's status; say whether it is news (fanout), late
    (superseded) or a second, different terminal status (conflict).

    `sent` is ingest's pending event, its answers read: its status insert (only for an
    outbound receipt with a status and a message id) was sent with the event insert;
    `status_created` says the message is new and this receipt is its first status."""
    if sent.status_created is None:
        return FANOUT
    event, event_id = sent.event, sent.event_id
    status, data = event.status, event.data
    if sent.status_created:
        if STATUS_RANK[status] == TERMINAL_RANK:
            sent.terminal = Terminal(event.vendor, status, data.get("reason"), None)
        return FANOUT
    where = (event.vendor, event.message_id)
    current_status, rank, conflict_status, permanent, accepted_at = tx.execute(
        sql.lock_status, where).fetchone()
    if permanent is not None:  # SQLite's driver answers 0 or 1
        permanent = bool(permanent)
    disposition = decide(current_status, status, permanent, data.get("permanent"))
    if disposition == CONFLICT and conflict_status is None:
        tx.execute(sql.record_conflict, (status, event_id, at(now), *where))
    elif disposition == FANOUT:
        _, _, country, _, _, accepted, delivered = first_facts(
            event, at(event.occurred_at), None)
        tx.execute(sql.advance_status, (status, STATUS_RANK[status], event_id, at(now),
                                        data.get("reason"), data.get("permanent"), country,
                                        at(now), accepted, delivered, *where))
        if STATUS_RANK[status] == TERMINAL_RANK:
            sent.terminal = Terminal(event.vendor, status, data.get("reason"),
                                     _seconds(read_time(accepted_at), event))
    elif rank < TERMINAL_RANK:
        # Late, but a receipt all the same: the message is not silent.
        tx.execute(sql.touch_status, (at(now), *where))
    return disposition


def decide(current: str, new: str, current_permanent: bool | None = None,
           new_permanent: bool | None = None) -> str:
    """The ladder: forward only; the first terminal status wins and a different later
    terminal one is a conflict (kept for an operator); anything else late is superseded.

    Except that a failure that is not permanent (a soft bounce: the handset was off) is not
    the end of the message: a later `delivered` moves past it, and a soft failure reported
    after the delivery is merely late."""
    current_rank, rank = STATUS_RANK[current], STATUS_RANK[new]
    if current_rank == TERMINAL_RANK and rank == TERMINAL_RANK:
        if new == current:
            return SUPERSEDED
        if new == DELIVERED and current_permanent is False:
            return FANOUT
        if current == DELIVERED and new_permanent is False:
            return SUPERSEDED
        return CONFLICT
    return FANOUT if rank > current_rank else SUPERSEDED


def _seconds(accepted_at: datetime | None, event: NormalizedEvent) -> float | None:
    if event.status != DELIVERED or accepted_at is None or event.occurred_at is None:
        return None
    return (event.occurred_at - accepted_at).total_seconds()


def observe_terminal(terminals: Iterable[Terminal | None]) -> None:
    """Count committed terminal statuses (web and poller processes; /metrics adds them up)."""
    for terminal in terminals:
        if terminal is None:
            continue
        MESSAGES_TERMINAL.labels(terminal.vendor, terminal.status,
                                 terminal.reason or "").inc()
        if terminal.seconds_to_deliver is not None:
            TIME_TO_DELIVER.labels(terminal.vendor).observe(
                max(0.0, terminal.seconds_to_deliver))
