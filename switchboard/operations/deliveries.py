"""Deliveries for operators: list them by state (dead letters first of all), newest first
with keyset paging, and send a dead or cancelled one again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_, update

from switchboard.models import Delivery, Event, Subscription
from switchboard.operations.common import (
    OperationError,
    check_id,
    choice_param,
    decode_cursor,
    id_param,
    limit_param,
    page,
    reject_unknown,
)
from switchboard.operations.events import delivery_json
from switchboard.store.wakeup import wake_workers

_d = Delivery.__table__
_e = Event.__table__
_s = Subscription.__table__

STATES = ("pending", "succeeded", "dead", "cancelled")
RETRYABLE = ("dead", "cancelled")
PARAMETERS = ("state", "event_id", "subscription_id", "limit", "cursor")


def list_deliveries(conn: Connection, args: Mapping[str, Any]) -> dict:
    """{"deliveries": [...], "next_cursor"}; filters state, event_id, subscription_id."""
    reject_unknown(args, PARAMETERS)
    state = choice_param(args, "state", STATES)
    event_id = id_param(args, "event_id", "evt")
    subscription_id = id_param(args, "subscription_id", "sub")
    limit, cursor = limit_param(args), decode_cursor(args)
    query = (select(_d, _e.c.type.label("event_type"), _e.c.vendor)
             .join(_e, _e.c.id == _d.c.event_id)
             .order_by(_d.c.created_at.desc(), _d.c.id.desc()))
    if state is not None:
        query = query.where(_d.c.state == state)
    if event_id is not None:
        query = query.where(_d.c.event_id == event_id)
    if subscription_id is not None:
        query = query.where(_d.c.subscription_id == subscription_id)
    if cursor is not None:
        query = query.where(tuple_(_d.c.created_at, _d.c.id)
                            < tuple_(*cursor, types=(_d.c.created_at.type, _d.c.id.type)))
    rows, next_cursor = page(conn.execute(query.limit(limit + 1)).all(), limit,
                             lambda row: (row.created_at, row.id))
    return {"deliveries": [delivery_json(row) | {"event_type": row.event_type,
                                                 "vendor": row.vendor} for row in rows],
            "next_cursor": next_cursor}


def get_delivery(conn: Connection, delivery_id: str) -> Any:
    check_id(delivery_id, "delivery")
    row = conn.execute(select(_d).where(_d.c.id == delivery_id)).first()
    if row is None:
        raise OperationError("id", f"no delivery {delivery_id!r}", 404)
    return row


def retry(conn: Connection, delivery_id: str, now: datetime) -> dict:
    """Put a dead or cancelled delivery back in the queue, due now, with its attempts reset,
    so the worker sends it again with its whole retry schedule. Its attempt history stays."""
    row = get_delivery(conn, delivery_id)
    if row.state not in RETRYABLE:
        raise OperationError("id", f"delivery {delivery_id} is {row.state}; only dead or "
                             "cancelled deliveries can be retried", 409, "not_retryable")
    if row.subscription_id is not None:
        sub = conn.execute(select(_s.c.active, _s.c.deleted_at)
                           .where(_s.c.id == row.subscription_id)).first()
        if sub is None or sub.deleted_at is not None or not sub.active:
            # The worker would only cancel it again.
            raise OperationError("subscription_id", f"subscription {row.subscription_id} is "
                                 "disabled or deleted; enable it first", 409, "not_retryable")
    changed = conn.execute(
        update(_d).where(_d.c.id == delivery_id, _d.c.state == row.state)
        .values(state="pending", attempts=0, next_attempt_at=now, lease_until=None,
                leased_by=None, finished_at=None)).rowcount
    if changed != 1:
        raise OperationError("id", f"delivery {delivery_id} changed meanwhile; look again",
                             409, "not_retryable")
    wake_workers(conn)
    return delivery_json(get_delivery(conn, delivery_id))
