"""One subscription's health over the last 24 hours: outcomes, success rate, last success,
what is pending and since when, attempt durations, attempts per hour, the latest attempts.

Counts, hourly buckets and the latest 50 are worked out by the database
(store/subscription_health.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from switchboard.operations import subscriptions as subs
from switchboard.store import subscription_health as store

LATEST = 50
ANSWER_SHOWN = 200  # characters of a subscriber's answer kept on the page
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def hour_starts(now: datetime, hours: int = 24) -> list[datetime]:
    """The starts of the last `hours` whole hours, the current (partial) one last."""
    top = now.replace(minute=0, second=0, microsecond=0)
    return [top - timedelta(hours=h) for h in range(hours - 1, -1, -1)]


def health(conn: Connection, subscription_id: str, now: datetime) -> dict:
    sub = subs.public(subs.get_row(conn, subscription_id, include_deleted=True))
    # The charted hours: the current one and the 23 before it, so figures and chart agree.
    since = hour_starts(now)[0]
    states = store.outcomes_since(conn, subscription_id, since)
    total, good, last_success = store.attempt_totals(conn, subscription_id, since)
    durations = store.attempt_durations(conn, subscription_id, since)
    latest = store.latest_attempts(conn, subscription_id, since, LATEST, ANSWER_SHOWN)
    pending, oldest = store.pending_of(conn, subscription_id)
    return {
        "subscription": sub,
        "since": since,
        "succeeded": states.get("succeeded", 0),
        "failed_attempts": total - good,
        "dead": states.get("dead", 0),
        "attempts": total,
        "success_rate": good / total if total else None,
        "last_success": last_success,
        "pending": pending,
        "oldest_pending": oldest,
        "duration_p50": percentile(durations, 0.5),
        "duration_p95": percentile(durations, 0.95),
        "per_hour": attempts_per_hour(conn, subscription_id, now),
        "latest": [_shown(a) for a in latest],
    }


def attempts_per_hour(conn: Connection, subscription_id: str, now: datetime) -> dict:
    """{"hours": [start, ...], "series": {"succeeded": [n, ...], "failed": [...]}}, counted
    by the database over the same attempts as the figures."""
    hours = hour_starts(now)
    first = (hours[0] - EPOCH) // timedelta(hours=1)
    series = {"succeeded": [0] * len(hours), "failed": [0] * len(hours)}
    for hour, ok, total in store.attempts_by_hour(conn, subscription_id, hours[0]):
        index = int(hour) - first
        if 0 <= index < len(hours):
            series["succeeded"][index] += ok
            series["failed"][index] += total - ok
    return {"hours": hours, "series": series}


def _shown(row: Any) -> dict:
    return {"id": row.id, "delivery_id": row.delivery_id, "event_id": row.event_id,
            "type": row.type, "started_at": row.started_at, "duration_ms": row.duration_ms,
            "status_code": row.status_code, "error": row.error, "answer": row.answer,
            "succeeded": succeeded(row.status_code)}
