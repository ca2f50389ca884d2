"""The subscriptions table as operators manage it: create, read, list, page, change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from switchboard.models import Subscription
from switchboard.store.events import older_than

_s = Subscription.__table__


def insert_subscription(conn: Connection, row: dict[str, Any]) -> None:
    """A new subscription: `row` has every column."""
    conn.execute(_s.insert(), row)


def subscription(conn: Connection, subscription_id: str,
                 include_deleted: bool = False) -> Any | None:
    """One subscription's row, secrets included; None when there is none (or it is deleted
    and `include_deleted` is false)."""
    query = select(_s).where(_s.c.id == subscription_id)
    if not include_deleted:
        query = query.where(_s.c.deleted_at.is_(None))
    return conn.execute(query).first()


def all_subscriptions(conn: Connection, include_deleted: bool = False) -> list[Any]:
    """Every subscription, oldest first."""
    query = select(_s).order_by(_s.c.created_at, _s.c.id)
    if not include_deleted:
        query = query.where(_s.c.deleted_at.is_(None))
    return conn.execute(query).all()


def subscriptions_page(conn: Connection, limit: int,
                       before: tuple[datetime, str] | None) -> list[Any]:
    """Up to `limit` subscriptions not deleted, newest first, from just before `before`
    (created_at, id) when given: a keyset page."""
    query = select(_s).where(_s.c.deleted_at.is_(None)) \
        .order_by(_s.c.created_at.desc(), _s.c.id.desc())
    if before is not None:
        query = query.where(older_than(before, _s.c.created_at, _s.c.id))
    return conn.execute(query.limit(limit)).all()


def update_subscription(conn: Connection, subscription_id: str, values: dict[str, Any]) -> None:
    """Write `values` (column: value) over one subscription's, deleted or not."""
    conn.execute(update(_s).where(_s.c.id == subscription_id).values(**values))
