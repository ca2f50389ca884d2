"""The last 24 hours at a glance, for the console's home page: callbacks stored per vendor
per hour, failed receipts (proved but did not parse), deliveries by outcome, and the queue
as /metrics reads it (worker lag, pending, dead letters).

Each series is counted into hourly buckets by the database over one index range (receipts
by state and time, deliveries by state and time): one day of index entries is read, and 24
counts a key come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select

from switchboard.models import Attempt, Delivery, Receipt
from switchboard.models.functions import epoch_seconds, hour_number
from switchboard.observability.metrics import age
from switchboard.operations.subscription_health import hour_starts
from switchboard.store.queue import dead_deliveries, owed_fanouts, pending_deliveries

_r = Receipt.__table__
_d = Delivery.__table__
_a = Attempt.__table__

OUTCOMES = ("succeeded", "pending", "dead", "cancelled")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hourly(conn: Connection, column, key, where: list, hours: list[datetime]) -> dict:
    """{key value: [count per hour]}, counted by the database one row once."""
    first = (hours[0] - EPOCH) // timedelta(hours=1)
    bucket = hour_number(column)
    series: dict = {}
    query = select(key, bucket, func.count()).where(*where, column >= hours[0]) \
        .group_by(key, bucket)
    for name, hour, count in conn.execute(query):
        index = int(hour) - first
        if 0 <= index < len(hours):
            series.setdefault(name, [0] * len(hours))[index] += count
    return dict(sorted(series.items()))


def overview(conn: Connection, now: datetime) -> dict:
    hours = hour_starts(now)
    callbacks = _hourly(conn, _r.c.received_at, _r.c.vendor, [_r.c.state == "parsed"], hours)
    failed = _hourly(conn, _r.c.received_at, _r.c.vendor, [_r.c.state == "failed"], hours)
    # A state at a time: each a range of ix_deliveries_state_created, read from the index
    # alone, where one day grouped by state would make PostgreSQL read the whole table.
    deliveries = {state: _hourly(conn, _d.c.created_at, _d.c.state, [_d.c.state == state],
                                 hours).get(state, [0] * len(hours)) for state in OUTCOMES}
    pending, oldest, earliest_due = pending_deliveries(conn)
    owed, oldest_owed = owed_fanouts(conn)
    return {
        "hours": hours,
        "callbacks": callbacks,
        "failed_receipts": failed,
        "deliveries": deliveries,
        "pending": pending,
        "oldest_pending_age": age(now, oldest),
        "dead": dead_deliveries(conn),
        "owed": owed,
        # As switchboard_worker_lag_seconds: how long the most overdue work has been due.
        "worker_lag": max(age(now, earliest_due), age(now, oldest_owed)),
        "worker_lag_hourly": worker_lag_by_hour(conn, now, hours),
        "dead_hourly": dead_by_hour(conn, hours),
    }


def dead_by_hour(conn: Connection, hours: list[datetime]) -> list[int]:
    """Deliveries that died in each hour, by when they died, not when they were owed. The
    worker writes the moment of death into both finished_at and next_attempt_at; the latter
    is the one indexed with the state (ix_deliveries_due), so one day of it is one range."""
    return _hourly(conn, _d.c.next_attempt_at, _d.c.state, [_d.c.state == "dead"],
                   hours).get("dead", [0] * len(hours))


def worker_lag_by_hour(conn: Connection, now: datetime, hours: list[datetime]) -> list[float]:
    """Seconds, per hour a delivery was owed in: the longest any delivery owed that hour
    waited between falling due (its created_at, when its first attempt is due) and its first
    attempt starting, or until now while still unattempted and pending: the hourly history
    of switchboard_worker_lag_seconds, how long due work waited for a worker.

    Only first attempts: a retry's due time (jittered backoff, Retry-After) is not stored.
    Read by index: each hour of ix_deliveries_created with each delivery's first attempt
    through ix_attempts_delivery_id; and the pending ones never attempted, a range of
    ix_deliveries_state_created."""
    first_hour = (hours[0] - EPOCH) // timedelta(hours=1)
    lag = [0.0] * len(hours)

    def longest(hour, seconds) -> None:
        index = int(hour) - first_hour
        if 0 <= index < len(hours) and seconds is not None:
            lag[index] = max(lag[index], round(float(seconds), 3))  # julianday: ~1 ms

    first = (select(func.min(_a.c.started_at)).where(_a.c.delivery_id == _d.c.id)
             .correlate(_d).scalar_subquery())
    waited = func.max(epoch_seconds(first) - epoch_seconds(_d.c.created_at))
    # An hour a query: over a whole day, a first attempt looked up a row made PostgreSQL
    # choose a parallel scan of the whole table; one hour is a plain index range.
    for start in hours:
        seconds = conn.execute(select(waited).where(
            _d.c.created_at >= start, _d.c.created_at < start + timedelta(hours=1))).scalar()
        longest((start - EPOCH) // timedelta(hours=1), seconds)
    attempted = select(_a.c.id).where(_a.c.delivery_id == _d.c.id).correlate(_d).exists()
    bucket = hour_number(_d.c.created_at)
    for hour, oldest in conn.execute(
            select(bucket, func.min(_d.c.created_at))
            .where(_d.c.state == "pending", _d.c.created_at >= hours[0], ~attempted)
            .group_by(bucket)):
        longest(hour, age(now, oldest))
    return lag
