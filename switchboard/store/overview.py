"""The console home's reads of the last day, each counted into hourly buckets by the database
over one index range: receipts by state and time, deliveries by state and time (24 counts
a key come back, not a day of rows), and the worker's lag: how long deliveries waited for
their first attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from switchboard.models import Attempt, Delivery, Receipt
from switchboard.store.functions import epoch_seconds, hour_number
from switchboard.store.statements import read_time

_r = Receipt.__table__
_d = Delivery.__table__
_a = Attempt.__table__


def _by_hour(conn: Connection, column, key, where: list, since: datetime) -> list[Any]:
    """(key, hour number, count) of the rows `where` selects from `since` on, by `column`."""
    bucket = hour_number(column)
    return conn.execute(select(key, bucket, func.count()).where(*where, column >= since)
                        .group_by(key, bucket)).all()


def receipts_by_hour(conn: Connection, state: str, since: datetime) -> list[Any]:
    """(vendor, hour number, count) of the receipts in `state` received since `since`."""
    return _by_hour(conn, _r.c.received_at, _r.c.vendor, [_r.c.state == state], since)


def deliveries_by_hour(conn: Connection, state: str, since: datetime) -> list[Any]:
    """(state, hour number, count) of the deliveries in `state` made since `since`: a range
    of ix_deliveries_state_created, read from the index alone (one day grouped by state
    would make PostgreSQL read the whole table)."""
    return _by_hour(conn, _d.c.created_at, _d.c.state, [_d.c.state == state], since)


def deaths_by_hour(conn: Connection, since: datetime) -> list[Any]:
    """("dead", hour number, count) of the deliveries that died since `since`, by when they
    died. The worker writes the moment of death into both finished_at and next_attempt_at;
    the latter is the one indexed with the state (ix_deliveries_due), so a day is one range."""
    return _by_hour(conn, _d.c.next_attempt_at, _d.c.state, [_d.c.state == "dead"], since)


def longest_first_wait(conn: Connection, start: datetime, end: datetime) -> float | None:
    """Seconds: the longest any delivery made in [start, end) waited between its creation
    (when its first attempt fell due) and its first attempt starting; None without one.

    Read through ix_deliveries_created and, per delivery, ix_attempts_delivery_id. Asked an
    hour at a time: over a whole day, a first attempt looked up a row made PostgreSQL choose
    a parallel scan of the whole table; one hour is a plain index range."""
    first = (select(func.min(_a.c.started_at)).where(_a.c.delivery_id == _d.c.id)
             .correlate(_d).scalar_subquery())
    waited = func.max(epoch_seconds(first) - epoch_seconds(_d.c.created_at))
    return conn.execute(select(waited).where(_d.c.created_at >= start,
                                             _d.c.created_at < end)).scalar()


def unattempted_by_hour(conn: Connection, since: datetime) -> list[tuple[int, datetime]]:
    """(hour number, oldest creation) of the pending deliveries made since `since` and never
    attempted: a range of ix_deliveries_state_created."""
    attempted = select(_a.c.id).where(_a.c.delivery_id == _d.c.id).correlate(_d).exists()
    bucket = hour_number(_d.c.created_at)
    rows = conn.execute(
        select(bucket, func.min(_d.c.created_at))
        .where(_d.c.state == "pending", _d.c.created_at >= since, ~attempted)
        .group_by(bucket))
    return [(hour, read_time(oldest)) for hour, oldest in rows]  # aggregates skip the type

