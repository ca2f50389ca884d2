"""One subscription's recent deliveries and attempts, counted by the database: what the
console's subscription health page shows.

Attempts are chosen by when they started and outcomes by when they were reached, not by
when their delivery was made: a delivery retried for over a day must still count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from switchboard.models import Attempt, Delivery, Event
from switchboard.store.functions import hour_number
from switchboard.store.statements import read_time

_d = Delivery.__table__
_a = Attempt.__table__
_e = Event.__table__

_succeeded = _a.c.status_code.between(200, 299)
_joined = _a.join(_d, _d.c.id == _a.c.delivery_id)


def _attempts_since(subscription_id: str, since: datetime) -> tuple:
    # By the attempt's own time, whatever the age of its delivery, so an old delivery's
    # retries today count in the figures as they do in the chart.
    return _d.c.subscription_id == subscription_id, _a.c.started_at >= since


def outcomes_since(conn: Connection, subscription_id: str, since: datetime) -> dict[str, int]:
    """{state: count} of the deliveries that succeeded or died since `since`, by when they
    did (with the default schedule a delivery dies about 27.6 h after it was made)."""
    return dict(conn.execute(
        select(_d.c.state, func.count())
        .where(_d.c.subscription_id == subscription_id,
               _d.c.state.in_(("succeeded", "dead")), _d.c.finished_at >= since)
        .group_by(_d.c.state)).all())


def attempt_totals(conn: Connection, subscription_id: str,
                   since: datetime) -> tuple[int, int, datetime | None]:
    """Attempts started since `since`: how many, how many succeeded (2xx), the last success."""
    total, good, last_success = conn.execute(
        select(func.count(), func.count().filter(_succeeded),
               func.max(_a.c.started_at).filter(_succeeded))
        .select_from(_joined).where(*_attempts_since(subscription_id, since))).one()
    return total, good, read_time(last_success)  # an aggregate skips the column type


def attempt_durations(conn: Connection, subscription_id: str, since: datetime) -> list[float]:
    """The duration (ms) of every attempt started since `since`."""
    return list(conn.execute(select(_a.c.duration_ms).select_from(_joined)
                             .where(*_attempts_since(subscription_id, since))).scalars())


def latest_attempts(conn: Connection, subscription_id: str, since: datetime, limit: int,
                    answer_chars: int) -> list[Any]:
    """The newest `limit` attempts started since `since`, each with its event's id and type
    and the first `answer_chars` characters of the subscriber's answer."""
    return conn.execute(
        select(_a.c.id, _a.c.delivery_id, _a.c.started_at, _a.c.duration_ms,
               _a.c.status_code, _a.c.error,
               func.substr(_a.c.response_body, 1, answer_chars).label("answer"),
               _d.c.event_id, _e.c.type)
        .select_from(_joined.join(_e, _e.c.id == _d.c.event_id))
        .where(*_attempts_since(subscription_id, since))
        .order_by(_a.c.started_at.desc(), _a.c.id.desc()).limit(limit)).all()


def pending_of(conn: Connection, subscription_id: str) -> tuple[int, datetime | None]:
    """How many of its deliveries are pending, and when the oldest was made."""
    pending, oldest = conn.execute(
        select(func.count(), func.min(_d.c.created_at))
        .where(_d.c.state == "pending", _d.c.subscription_id == subscription_id)).one()
    return pending, read_time(oldest)  # an aggregate skips the column type


def attempts_by_hour(conn: Connection, subscription_id: str, since: datetime) -> list[Any]:
    """(hour number, succeeded, all) of the attempts started since `since`."""
    bucket = hour_number(_a.c.started_at)
    return conn.execute(
        select(bucket, func.count().filter(_succeeded), func.count())
        .select_from(_joined).where(*_attempts_since(subscription_id, since))
        .group_by(bucket)).all()
