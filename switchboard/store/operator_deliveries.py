"""Deliveries as operators see and handle them: a page of them (newest first, keyset-paged as
store/events.py says), one delivery, and a dead or cancelled one put back in the queue.
The worker's side of deliveries (claim, lease, record) is store/deliveries.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from switchboard.models import Delivery, Event
from switchboard.store.events import older_than

_d = Delivery.__table__
_e = Event.__table__


def deliveries_page(conn: Connection, state: str | None, event_id: str | None,
                    subscription_id: str | None, after: tuple[datetime, str] | None,
                    limit: int) -> list[Any]:
    """Deliveries, each with its event's type (event_type) and vendor, newest first by
    (created_at, id); a filter given None is not applied."""
    query = (select(_d, _e.c.type.label("event_type"), _e.c.vendor)
             .join(_e, _e.c.id == _d.c.event_id)
             .order_by(_d.c.created_at.desc(), _d.c.id.desc()))
    if state is not None:
        query = query.where(_d.c.state == state)
    if event_id is not None:
        query = query.where(_d.c.event_id == event_id)
    if subscription_id is not None:
        query = query.where(_d.c.subscription_id == subscription_id)
    if after is not None:
        query = query.where(older_than(after, _d.c.created_at, _d.c.id))
    return conn.execute(query.limit(limit)).all()


def delivery_by_id(conn: Connection, delivery_id: str) -> Any:
    """One delivery's row, or None."""
    return conn.execute(select(_d).where(_d.c.id == delivery_id)).first()


def requeue(conn: Connection, delivery_id: str, state: str, now: datetime) -> bool:
    """Put the delivery back in the queue, due now, unleased, with its attempts reset, if it
    is still in `state`; whether it was."""
    return conn.execute(
        update(_d).where(_d.c.id == delivery_id, _d.c.state == state)
        .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None,
                leased_by=None, finished_at=None)).rowcount == 1
