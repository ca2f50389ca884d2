"""One subscription's health over the last 24 hours: outcomes, success rate, last success,
what is pending and since when, attempt durations, attempts per hour, the latest attempts.

Read from the deliveries created in the window (ix_deliveries_created: a range of the
index, whatever the subscription) and their attempts (by delivery_id), so the page costs
one day of deliveries, not the table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from switchboard.models import Attempt, Delivery, Event
from switchboard.operations import subscriptions as subs

_d = Delivery.__table__
_a = Attempt.__table__
_e = Event.__table__

LATEST = 50
ANSWER_SHOWN = 200  # characters of a subscriber's answer kept on the page


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
    mine = select(_d.c.id).where(_d.c.created_at >= since,
                                 _d.c.subscription_id == subscription_id)
    states = dict(conn.execute(
        select(_d.c.state, func.count()).where(_d.c.created_at >= since,
                                               _d.c.subscription_id == subscription_id)
        .group_by(_d.c.state)).all())
    attempts = conn.execute(
        select(_a.c.id, _a.c.delivery_id, _a.c.started_at, _a.c.duration_ms,
               _a.c.status_code, _a.c.error,
               func.substr(_a.c.response_body, 1, ANSWER_SHOWN).label("answer"),
               _d.c.event_id, _e.c.type)
        .join(_d, _d.c.id == _a.c.delivery_id).join(_e, _e.c.id == _d.c.event_id)
        .where(_a.c.delivery_id.in_(mine.scalar_subquery()))
        .order_by(_a.c.started_at.desc(), _a.c.id.desc())).all()
    pending, oldest = conn.execute(
        select(func.count(), func.min(_d.c.created_at))
        .where(_d.c.state == "pending", _d.c.subscription_id == subscription_id)).one()
    if oldest is not None and oldest.tzinfo is None:  # aggregates skip the column type
        oldest = oldest.replace(tzinfo=now.tzinfo)
    ok = [a for a in attempts if succeeded(a.status_code)]
    durations = [a.duration_ms for a in attempts]
    return {
        "subscription": sub,
        "since": since,
        "succeeded": states.get("succeeded", 0),
        "failed_attempts": len(attempts) - len(ok),
        "dead": states.get("dead", 0),
        "attempts": len(attempts),
        "success_rate": len(ok) / len(attempts) if attempts else None,
        "last_success": max((a.started_at for a in ok), default=None),
        "pending": pending,
        "oldest_pending": oldest,
        "duration_p50": percentile(durations, 0.5),
        "duration_p95": percentile(durations, 0.95),
        "per_hour": attempts_per_hour(attempts, now),
        "latest": [_shown(a) for a in attempts[:LATEST]],
    }


def attempts_per_hour(attempts: list[Any], now: datetime) -> dict:
    """{"hours": [start, ...], "series": {"succeeded": [n, ...], "failed": [...]}}."""
    hours = hour_starts(now)
    first = hours[0]
    series = {"succeeded": [0] * len(hours), "failed": [0] * len(hours)}
    for attempt in attempts:
        index = int((attempt.started_at - first) // timedelta(hours=1))
        if 0 <= index < len(hours):
            series["succeeded" if succeeded(attempt.status_code) else "failed"][index] += 1
    return {"hours": hours, "series": series}


def _shown(row: Any) -> dict:
    return {"id": row.id, "delivery_id": row.delivery_id, "event_id": row.event_id,
            "type": row.type, "started_at": row.started_at, "duration_ms": row.duration_ms,
            "status_code": row.status_code, "error": row.error, "answer": row.answer,
            "succeeded": succeeded(row.status_code)}
