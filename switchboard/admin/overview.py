"""The last 24 hours at a glance, for the console's home page: callbacks stored per vendor
per hour, failed receipts (proved but did not parse), deliveries by outcome, and the queue
as /metrics reads it (worker lag, pending, dead letters).

Each series is one query over one index range (receipts by state and time, deliveries by
time), counted into hourly buckets by the database: one day of rows is read, none sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, case, func, select

from switchboard.admin.subscription_health import hour_starts
from switchboard.models import Delivery, Receipt
from switchboard.observability.metrics import DEAD, OWED, PENDING, age

_r = Receipt.__table__
_d = Delivery.__table__

HOUR = timedelta(hours=1)
OUTCOMES = ("succeeded", "pending", "dead", "cancelled")


def _hourly(column, hours: list[datetime]) -> list:
    return [func.sum(case((and_(column >= start, column < start + HOUR), 1), else_=0))
            for start in hours]


def _series(conn: Connection, query, hours: list[datetime]) -> dict[str, list[int]]:
    return {key: [int(n or 0) for n in counts] for key, *counts in conn.execute(query)}


def overview(conn: Connection, now: datetime) -> dict:
    hours = hour_starts(now)
    since = hours[0]
    callbacks = _series(conn, select(_r.c.vendor, *_hourly(_r.c.received_at, hours))
                        .where(_r.c.state == "parsed", _r.c.received_at >= since)
                        .group_by(_r.c.vendor).order_by(_r.c.vendor), hours)
    failed = _series(conn, select(_r.c.vendor, *_hourly(_r.c.received_at, hours))
                     .where(_r.c.state == "failed", _r.c.received_at >= since)
                     .group_by(_r.c.vendor).order_by(_r.c.vendor), hours)
    by_state = _series(conn, select(_d.c.state, *_hourly(_d.c.created_at, hours))
                       .where(_d.c.created_at >= since).group_by(_d.c.state), hours)
    deliveries = {state: by_state.get(state, [0] * len(hours)) for state in OUTCOMES}
    pending, oldest, earliest_due = conn.execute(PENDING).one()
    owed, oldest_owed = conn.execute(OWED).one()
    return {
        "hours": hours,
        "callbacks": callbacks,
        "failed_receipts": failed,
        "deliveries": deliveries,
        "pending": pending,
        "oldest_pending_age": age(now, oldest),
        "dead": conn.execute(DEAD).scalar_one(),
        "owed": owed,
        # As switchboard_worker_lag_seconds: how long the most overdue work has been due.
        "worker_lag": max(age(now, earliest_due), age(now, oldest_owed)),
    }
