"""Retention's reads and deletes (operations/retention.py runs them in order, a batch per
transaction): what is older than a cutoff and no longer owed anything."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, delete, exists, func, not_, select

from switchboard.models import Attempt, Delivery, Event, Receipt
from switchboard.models.tables import GENERATED

FINISHED = ("succeeded", "dead", "cancelled")

_d = Delivery.__table__
_a = Attempt.__table__
_e = Event.__table__
_r = Receipt.__table__


def _old_finished(cutoff: datetime):
    # Worker-finished rows have next_attempt_at == finished_at: the first condition lets
    # ix_deliveries_due (state, next_attempt_at) find them without reading the table.
    return and_(_d.c.state.in_(FINISHED), _d.c.next_attempt_at < cutoff,
                _d.c.finished_at < cutoff)


def _event_purgeable(cutoff: datetime):
    kept_delivery = select(_d.c.id).where(_d.c.event_id == _e.c.id,
                                          not_(_old_finished(cutoff)))
    # An event still owed its fan-out has no delivery rows yet, and is kept all the same.
    return and_(_e.c.received_at < cutoff, _e.c.fanout_owed.is_(None),
                not_(exists(kept_delivery)))


def _receipt_purgeable(cutoff: datetime, events_gone: bool):
    """A receipt goes when every event it produced goes (or already went)."""
    referencing = select(_e.c.id).where(_e.c.receipt_id == _r.c.id)
    if not events_gone:  # dry run: the events that would stay
        referencing = referencing.where(not_(_event_purgeable(cutoff)))
    return and_(_r.c.state.in_(("parsed", "failed", GENERATED)), _r.c.received_at < cutoff,
                not_(exists(referencing)))


def purgeable(conn: Connection, cutoff: datetime) -> tuple[int, int, int, int]:
    """How many deliveries, attempts, events and receipts a purge at `cutoff` would delete."""
    old = select(_d.c.id).where(_old_finished(cutoff))
    return (conn.scalar(select(func.count()).select_from(old.subquery())),
            conn.scalar(select(func.count()).where(_a.c.delivery_id.in_(old))),
            conn.scalar(select(func.count()).where(_event_purgeable(cutoff))),
            conn.scalar(select(func.count()).where(
                _receipt_purgeable(cutoff, events_gone=False))))


def _batch_ids(conn: Connection, table, where, order_by, limit: int) -> list[str]:
    # FOR UPDATE (PostgreSQL): a delivery being retried, or a replay enqueuing for an event,
    # waits for this batch instead of racing it; SKIP LOCKED leaves their rows to them.
    query = select(table.c.id).where(where).order_by(order_by).limit(limit) \
        .with_for_update(skip_locked=True)
    return list(conn.scalars(query))


def purge_deliveries(conn: Connection, cutoff: datetime, limit: int) -> tuple[int, int, int]:
    """Up to `limit` deliveries finished before `cutoff`, with their attempts: how many were
    picked, attempts deleted, deliveries deleted."""
    ids = _batch_ids(conn, _d, _old_finished(cutoff), _d.c.next_attempt_at, limit)
    if not ids:
        return 0, 0, 0
    attempts = conn.execute(delete(_a).where(_a.c.delivery_id.in_(ids))).rowcount
    deliveries = conn.execute(delete(_d).where(_d.c.id.in_(ids), _old_finished(cutoff))).rowcount
    return len(ids), attempts, deliveries


def purge_events(conn: Connection, cutoff: datetime, limit: int) -> tuple[int, int]:
    """Up to `limit` events received before `cutoff` that are owed nothing and have no
    delivery left: how many were picked, how many deleted."""
    ids = _batch_ids(conn, _e, _event_purgeable(cutoff), _e.c.received_at, limit)
    if not ids:
        return 0, 0
    # The condition again, in this statement's own snapshot: a delivery committed for one
    # of these events since the select keeps it.
    return len(ids), conn.execute(
        delete(_e).where(_e.c.id.in_(ids), _event_purgeable(cutoff))).rowcount


def purge_receipts(conn: Connection, cutoff: datetime, limit: int) -> tuple[int, int]:
    """Up to `limit` receipts received before `cutoff` that no event points to: how many were
    picked, how many deleted."""
    where = _receipt_purgeable(cutoff, events_gone=True)
    ids = _batch_ids(conn, _r, where, _r.c.received_at, limit)
    if not ids:
        return 0, 0
    return len(ids), conn.execute(delete(_r).where(_r.c.id.in_(ids), where)).rowcount
