"""The last 24 hours at a glance, for the console's home page: callbacks stored per vendor
per hour, failed receipts (proved but did not parse), deliveries by outcome, and the queue
as /metrics reads it (worker lag, pending, dead letters).

The database counts each series into hourly buckets (store/overview.py); here they are laid
out on the day's 24 hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from switchboard.observability.metrics import age
from switchboard.operations.subscription_health import hour_starts
from switchboard.store import overview as store
from switchboard.store.queue import dead_deliveries, owed_fanouts, pending_deliveries

OUTCOMES = ("succeeded", "pending", "dead", "cancelled")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _hourly(rows: list[Any], hours: list[datetime]) -> dict:
    """{key: [count per hour]} from (key, hour number, count) rows."""
    first = (hours[0] - EPOCH) // timedelta(hours=1)
    series: dict = {}
    for name, hour, count in rows:
        index = int(hour) - first
        if 0 <= index < len(hours):
            series.setdefault(name, [0] * len(hours))[index] += count
    return dict(sorted(series.items()))


def overview(conn: Connection, now: datetime) -> dict:
    hours = hour_starts(now)
    callbacks = _hourly(store.receipts_by_hour(conn, "parsed", hours[0]), hours)
    failed = _hourly(store.receipts_by_hour(conn, "failed", hours[0]), hours)
    # A state at a time: each one range of an index.
    deliveries = {state: _hourly(store.deliveries_by_hour(conn, state, hours[0]), hours)
                  .get(state, [0] * len(hours)) for state in OUTCOMES}
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
    """Deliveries that died in each hour, by when they died, not when they were owed."""
    return _hourly(store.deaths_by_hour(conn, hours[0]), hours).get("dead", [0] * len(hours))


def worker_lag_by_hour(conn: Connection, now: datetime, hours: list[datetime]) -> list[float]:
    """Seconds, per hour a delivery was owed in: the longest any delivery owed that hour
    waited between falling due (its created_at, when its first attempt is due) and its first
    attempt starting, or until now while still unattempted and pending: the hourly history
    of switchboard_worker_lag_seconds, how long due work waited for a worker.

    Only first attempts: a retry's due time (jittered backoff, Retry-After) is not stored."""
    first_hour = (hours[0] - EPOCH) // timedelta(hours=1)
    lag = [0.0] * len(hours)

    def longest(hour, seconds) -> None:
        index = int(hour) - first_hour
        if 0 <= index < len(hours) and seconds is not None:
            lag[index] = max(lag[index], round(float(seconds), 3))  # julianday: ~1 ms

    for start in hours:
        seconds = store.longest_first_wait(conn, start, start + timedelta(hours=1))
        longest((start - EPOCH) // timedelta(hours=1), seconds)
    for hour, oldest in store.unattempted_by_hour(conn, hours[0]):
        longest(hour, age(now, oldest))
    return lag
