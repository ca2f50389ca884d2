"""Retention: delete what is older than a cutoff, in bounded batches, never what is owed.

Order matters. First finished deliveries (succeeded, dead, cancelled) and their attempts;
then events that no longer have any delivery (so an event with a pending delivery, or a
replay finished after the cutoff, stays); then receipts, parsed or failed, that no event
points to. Each batch is its own transaction, so a long purge never holds locks for long
and an interrupted one keeps what it did. message_status rows stay: they are the current
state of each message, not history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, exists, func, not_, select

from switchboard.models import Attempt, Delivery, Event, Receipt
from switchboard.models.tables import GENERATED

FINISHED = ("succeeded", "dead", "cancelled")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*")

_d = Delivery.__table__
_a = Attempt.__table__
_e = Event.__table__
_r = Receipt.__table__


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '45s', '2w' -> timedelta; anything else is a ValueError."""
    match = _DURATION.fullmatch(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h or 90m")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


@dataclass
class PurgeCounts:
    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    receipts: int = 0

    def line(self) -> str:
        return ", ".join(f"{getattr(self, f.name)} {f.name}" for f in fields(self))


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


def count(engine: Engine, cutoff: datetime) -> PurgeCounts:
    """What purge() would delete now (--dry-run)."""
    old = select(_d.c.id).where(_old_finished(cutoff))
    with engine.connect() as conn:
        return PurgeCounts(
            deliveries=conn.scalar(select(func.count()).select_from(old.subquery())),
            attempts=conn.scalar(select(func.count()).where(_a.c.delivery_id.in_(old))),
            events=conn.scalar(select(func.count()).where(_event_purgeable(cutoff))),
            receipts=conn.scalar(select(func.count()).where(
                _receipt_purgeable(cutoff, events_gone=False))),
        )


def purge(engine: Engine, cutoff: datetime, batch_size: int = 1000,
          progress: Callable[[PurgeCounts], None] | None = None) -> PurgeCounts:
    done = PurgeCounts()
    for step in (_deliveries_batch, _events_batch, _receipts_batch):
        while True:
            with engine.begin() as conn:
                deleted = step(conn, cutoff, batch_size, done)
            if progress is not None:
                progress(done)
            if deleted < batch_size:
                break
    return done


def _batch_ids(conn: Connection, table, where, order_by, limit: int) -> list[str]:
    # FOR UPDATE (PostgreSQL): a delivery being retried, or a replay enqueuing for an event,
    # waits for this batch instead of racing it; SKIP LOCKED leaves their rows to them.
    query = select(table.c.id).where(where).order_by(order_by).limit(limit) \
        .with_for_update(skip_locked=True)
    return list(conn.scalars(query))


def _deliveries_batch(conn: Connection, cutoff: datetime, limit: int,
                      done: PurgeCounts) -> int:
    ids = _batch_ids(conn, _d, _old_finished(cutoff), _d.c.next_attempt_at, limit)
    if ids:
        done.attempts += conn.execute(delete(_a).where(_a.c.delivery_id.in_(ids))).rowcount
        done.deliveries += conn.execute(
            delete(_d).where(_d.c.id.in_(ids), _old_finished(cutoff))).rowcount
    return len(ids)


def _events_batch(conn: Connection, cutoff: datetime, limit: int, done: PurgeCounts) -> int:
    ids = _batch_ids(conn, _e, _event_purgeable(cutoff), _e.c.received_at, limit)
    if ids:
        # The condition again, in this statement's own snapshot: a delivery committed for
        # one of these events since the select keeps it.
        done.events += conn.execute(
            delete(_e).where(_e.c.id.in_(ids), _event_purgeable(cutoff))).rowcount
    return len(ids)


def _receipts_batch(conn: Connection, cutoff: datetime, limit: int,
                    done: PurgeCounts) -> int:
    where = _receipt_purgeable(cutoff, events_gone=True)
    ids = _batch_ids(conn, _r, where, _r.c.received_at, limit)
    if ids:
        done.receipts += conn.execute(delete(_r).where(_r.c.id.in_(ids), where)).rowcount
    return len(ids)
