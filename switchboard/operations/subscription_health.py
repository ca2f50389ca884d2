"""One subscription's health over the last 24 hours: outcomes, success rate, last success,
what is pending and since when, attempt durations, attempts per hour, the latest attempts.

Attempts are chosen by when they started and outcomes by when they were reached, not by
when their delivery was made: a delivery retried for over a day must still count. Counts,
hourly buckets and the latest 50 are worked out by the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from switchboard.models import Attempt, Delivery, Event
from switchboard.models.functions import hour_number
from switchboard.operations import subscriptions as subs

_d = Delivery.__table__
_a = Attempt.__table__
_e = Event.__table__

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
    mine = _d.c.subscription_id == subscription_id
    # Outcomes by when they were reached: with the default schedule a delivery dies about
    # 27.6 h after it was made, so counting those made in the window would miss the dead.
    states = dict(conn.execute(
        select(_d.c.state, func.count())
        .where(mine, _d.c.state.in_(("succeeded", "dead")), _d.c.finished_at >= since)
        .group_by(_d.c.state)).all())
    # Attempts by their own time, whatever the age of their delivery, so an old delivery's
    # retries today count here as they do in the chart.
    joined = _a.join(_d, _d.c.id == _a.c.delivery_id)
    window = (mine, _a.c.started_at >= since)
    ok = _a.c.status_code.between(200, 299)
    total, good, last_success = conn.execute(
        select(func.count(), func.count().filter(ok), func.max(_a.c.started_at).filter(ok))
        .select_from(joined).where(*window)).one()
    if last_success is not None and last_success.tzinfo is None:  # as `oldest` below
        last_success = last_success.replace(tzinfo=now.tzinfo)
    durations = list(conn.execute(
        select(_a.c.duration_ms).select_from(joined).where(*window)).scalars())
    latest = conn.execute(
        select(_a.c.id, _a.c.delivery_id, _a.c.started_at, _a.c.duration_ms,
               _a.c.status_code, _a.c.error,
               func.substr(_a.c.response_body, 1, ANSWER_SHOWN).label("answer"),
               _d.c.event_id, _e.c.type)
        .select_from(joined.join(_e, _e.c.id == _d.c.event_id)).where(*window)
        .order_by(_a.c.started_at.desc(), _a.c.id.desc()).limit(LATEST)).all()
    pending, oldest = conn.execute(
        select(func.count(), func.min(_d.c.created_at))
        .where(_d.c.state == "pending", mine)).one()
    if oldest is not None and oldest.tzinfo is None:  # aggregates skip the column type
        oldest = oldest.replace(tzinfo=now.tzinfo)
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
    good = _a.c.status_code.between(200, 299)
    bucket = hour_number(_a.c.started_at)
    query = select(bucket, func.count().filter(good), func.count()) \
        .select_from(_a.join(_d, _d.c.id == _a.c.delivery_id)) \
        .where(_d.c.subscription_id == subscription_id, _a.c.started_at >= hours[0]) \
        .group_by(bucket)
    for hour, ok, total in conn.execute(query):
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
