"""Who an event is owed to, as worker/outbox.py decides it: the subscriptions a fan-out
matches against, and the delivery rows it writes (for a replay, a renormalize or a test
event; the worker's own expansion writes its batch through store/deliveries.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from switchboard.models import Delivery, Subscription

_d = Delivery.__table__
_s = Subscription.__table__

_ACTIVE = select(_s.c.id, _s.c.event_types, _s.c.vendors, _s.c.created_at) \
    .where(_s.c.active.is_(True), _s.c.deleted_at.is_(None))


def active_subscriptions(conn: Connection) -> list[Any]:
    """The subscriptions that may be sent to (active, not deleted): their id, event_types,
    vendors and created_at."""
    return conn.execute(_ACTIVE).all()


def insert_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """New delivery rows, each with every column. A second non-replay row for one event and
    target breaks a unique index: an IntegrityError."""
    conn.execute(_d.insert(), rows)
