"""Deliveries for operators: list them by state (dead letters first of all), newest first
with keyset paging, and send a dead or cancelled one again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

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
from switchboard.store.operator_deliveries import deliveries_page, delivery_by_id, requeue
from switchboard.store.subscriptions import subscription
from switchboard.store.wakeup import wake_workers

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
    rows, next_cursor = page(deliveries_page(conn, state, event_id, subscription_id, cursor,
                                             limit + 1),
                             limit, lambda row: (row.created_at, row.id))
    return {"deliveries": [delivery_json(row) | {"event_type": row.event_type,
                                                 "vendor": row.vendor} for row in rows],
            "next_cursor": next_cursor}


def get_delivery(conn: Connection, delivery_id: str) -> Any:
    check_id(delivery_id, "delivery")
    row = delivery_by_id(conn, delivery_id)
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
        sub = subscription(conn, row.subscription_id, include_deleted=True)
        if sub is None or sub.deleted_at is not None or not sub.active:
            # The worker would only cancel it again.
            raise OperationError("subscription_id", f"subscription {row.subscription_id} is "
                                 "disabled or deleted; enable it first", 409, "not_retryable")
    if not requeue(conn, delivery_id, row.state, now):
        raise OperationError("id", f"delivery {delivery_id} changed meanwhile; look again",
                             409, "not_retryable")
    wake_workers(conn)
    return delivery_json(get_delivery(conn, delivery_id))
