"""The transactional outbox: delivery rows written in the same transaction as their event,
one per event and matching target (an HTTP subscription or an in-process handler)."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy import event as sa_event

from switchboard.handlers.registry import matches, matching
from switchboard.ids import new_id
from switchboard.models import Delivery, Subscription
from switchboard.models.db import RawTransaction
from switchboard.router.statements import NOTIFY_CHANNEL, IngestSql, dumps

_deliveries = Delivery.__table__
_subs = Subscription.__table__

INSERT_DELIVERY = _deliveries.insert()
ACTIVE_SUBSCRIPTIONS = select(_subs.c.id, _subs.c.event_types, _subs.c.vendors).where(
    _subs.c.active.is_(True), _subs.c.deleted_at.is_(None))
# pg_notify inside the transaction is delivered at commit, so a worker never wakes for a
# row it cannot see yet.
NOTIFY = text(f"SELECT pg_notify('{NOTIFY_CHANNEL}', '')")
# How long ingest trusts its copy of the active subscriptions. A change made in this process
# (CLI, admin API, a worker disabling one) is seen at once; one made by another process
# within this time.
SUBSCRIPTIONS_TTL = 1.0


@dataclass(frozen=True)
class Routed:
    event_id: str
    type: str
    vendor: str


def delivery_row(event_id: str, now: datetime, *, subscription_id: str | None = None,
                 handler: str | None = None, replay: bool = False) -> dict:
    return {"id": new_id("dlv"), "event_id": event_id, "subscription_id": subscription_id,
            "handler": handler, "state": "pending", "attempts": 0, "next_attempt_at": now,
            "lease_until": None, "leased_by": None, "replay": replay, "created_at": now,
            "finished_at": None, "last_error": None}


def plan(conn: Connection, events: Iterable[Routed], now: datetime, *,
         subscription_id: str | None = None, include_handlers: bool = True,
         replay: bool = False) -> list[dict]:
    """The delivery rows these events are owed (not yet written)."""
    events = list(events)
    if not events:
        return []
    subs = conn.execute(ACTIVE_SUBSCRIPTIONS).all()
    if subscription_id is not None:
        subs = [s for s in subs if s.id == subscription_id]
    rows = []
    for event in events:
        for sub in subs:
            if matches(sub.event_types, sub.vendors, event.type, event.vendor):
                rows.append(delivery_row(event.event_id, now, subscription_id=sub.id,
                                         replay=replay))
        if include_handlers:
            rows.extend(delivery_row(event.event_id, now, handler=h.name, replay=replay)
                        for h in matching(event.type, event.vendor))
    return rows


def write(conn: Connection, rows: list[dict]) -> None:
    if not rows:
        return
    conn.execute(INSERT_DELIVERY, rows)
    if conn.dialect.name == "postgresql":
        conn.execute(NOTIFY)


def enqueue(conn: Connection, events: Iterable[Routed], now: datetime) -> int:
    rows = plan(conn, events, now)
    write(conn, rows)
    return len(rows)


@dataclass(frozen=True)
class ActiveSubscription:
    id: str
    event_types: tuple[str, ...]
    vendors: tuple[str, ...] | None


class ActiveSubscriptions:
    """The active subscriptions as ingest read them, and which of them want an event type
    from a vendor, worked out once per snapshot: with many subscriptions, the glob matching
    cost more per callback than the inserts it chose."""

    def __init__(self, subs: list[ActiveSubscription]) -> None:
        self.subs = subs
        self._wanting: dict[tuple[str, str], tuple[str, ...]] = {}

    def wanting(self, event_type: str, vendor: str) -> tuple[str, ...]:
        key = (event_type, vendor)
        ids = self._wanting.get(key)
        if ids is None:
            ids = tuple(s.id for s in self.subs
                        if matches(s.event_types, s.vendors, event_type, vendor))
            # Bounded: the keys are the vendors' event types, a short fixed list.
            self._wanting[key] = ids
        return ids


_active: weakref.WeakKeyDictionary[Engine, tuple[float, ActiveSubscriptions]] = \
    weakref.WeakKeyDictionary()
_active_lock = threading.Lock()


def active_subscriptions(engine: Engine) -> ActiveSubscriptions:
    """The active subscriptions, read at most once per SUBSCRIPTIONS_TTL per process: ingest
    needs them on every callback and they change rarely."""
    cached = _active.get(engine)
    if cached is not None and time.monotonic() < cached[0]:
        return cached[1]
    expires = time.monotonic() + SUBSCRIPTIONS_TTL
    with engine.connect() as conn:
        subs = ActiveSubscriptions([
            ActiveSubscription(row.id, tuple(row.event_types),
                               tuple(row.vendors) if row.vendors else None)
            for row in conn.execute(ACTIVE_SUBSCRIPTIONS)])
    with _active_lock:
        _active[engine] = (expires, subs)
    return subs


def forget_subscriptions() -> None:
    """This process changed a subscription: the next ingest reads them again."""
    with _active_lock:
        _active.clear()


_SUBSCRIPTION_WRITES = ("insert into subscriptions", "update subscriptions",
                        "delete from subscriptions")


@sa_event.listens_for(Engine, "after_cursor_execute")
def _saw_statement(conn, _cursor, statement, _params, _context, _many) -> None:
    # Every in-process writer goes through SQLAlchemy (the hot path, which does not, never
    # writes subscriptions): forget on the write, and again as it commits, so a reader that
    # came in between is not trusted either.
    if statement[:26].lower().startswith(_SUBSCRIPTION_WRITES):
        conn.info["switchboard_subscriptions_changed"] = True
        forget_subscriptions()


@sa_event.listens_for(Engine, "commit")
def _committing(conn) -> None:
    if conn.info.pop("switchboard_subscriptions_changed", False):
        forget_subscriptions()


def enqueue_raw(tx: RawTransaction, sql: IngestSql, subs: ActiveSubscriptions,
                events: Iterable[Routed], now, time_param) -> int:
    """The hot path's enqueue: the delivery rows for new events, on the ingest transaction."""
    rows = []
    for event in events:
        rows.extend((new_id("dlv"), event.event_id, sub_id, None)
                    for sub_id in subs.wanting(event.type, event.vendor))
        rows.extend((new_id("dlv"), event.event_id, None, h.name)
                    for h in matching(event.type, event.vendor))
    if rows:
        at = time_param(now)
        tx.execute(sql.insert_deliveries, (at, at, dumps(rows)))
        if sql.notify is not None:
            tx.execute(sql.notify)
    return len(rows)
