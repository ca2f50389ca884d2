"""The scorecard's reads of message_status, per dialect: PostgreSQL computes the
percentiles (percentile_cont); SQLite has none, so there they are interpolated the same way
from the durations."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from switchboard.events import FAILURE_STATUSES, REASONS, TERMINAL_RANK
from switchboard.models import MessageStatus

DELIVERED_STATUSES = ("delivered", "read")  # read comes after delivered
PERCENTILES = (0.5, 0.95)

_m = MessageStatus.__table__
_measured = and_(_m.c.accepted_at.is_not(None), _m.c.delivered_at.is_not(None))


def _count(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


def read_scorecard(conn: Connection, since: datetime, until: datetime, vendor: str | None,
                   country: str | None) -> tuple[list[Any], dict[tuple, list]]:
    """One row of counts per (vendor, country) over the messages whose first receipt reached
    us in [since, until) (of one vendor, one country when given), and the time-to-deliver
    percentiles (PERCENTILES) of each."""
    conditions = [_m.c.first_receipt_at >= since, _m.c.first_receipt_at < until]
    if vendor is not None:
        conditions.append(_m.c.vendor == vendor)
    if country is not None:
        conditions.append(_m.c.country == country)
    if conn.dialect.name == "postgresql":
        # An analytic read over up to millions of rows: compiling it costs more than it saves.
        conn.exec_driver_sql("SET LOCAL jit = off")
        counted = conn.execute(_counts(conditions)).all()
        return counted, {(r.vendor, r.country): r.percentiles
                         for r in conn.execute(_percentiles(conditions))}
    counted = conn.execute(_counts(conditions)).all()
    durations: dict[tuple, list[float]] = {}
    for row in conn.execute(_durations(conditions)):
        durations.setdefault((row.vendor, row.country), []).append(row.seconds)
    return counted, {key: [interpolate(sorted(values), p) for p in PERCENTILES]
                     for key, values in durations.items()}


def _counts(conditions: list):
    """One pass, hashed by vendor and country (no sort: PostgreSQL runs it in parallel),
    the failure reasons counted in it too."""
    return (select(
        _m.c.vendor, _m.c.country, func.count().label("messages"),
        _count(_m.c.status.in_(DELIVERED_STATUSES)).label("delivered"),
        _count(_m.c.status.in_(sorted(FAILURE_STATUSES))).label("failed"),
        _count(_m.c.rank < TERMINAL_RANK).label("pending"),
        _count(and_(_m.c.rank < TERMINAL_RANK, _m.c.overdue_at.is_not(None))).label("overdue"),
        _count(_measured).label("samples"),
        *(_count(_m.c.reason == reason).label(f"reason_{reason}") for reason in REASONS))
        .where(*conditions).group_by(_m.c.vendor, _m.c.country))


def _percentiles(conditions: list):
    """PostgreSQL: only the measured messages, grouped by byte order ("C"): sorting by the
    database's own collation costs a third more, and the groups are the same."""
    vendor, country = _m.c.vendor.collate("C"), _m.c.country.collate("C")
    seconds = func.extract("epoch", _m.c.delivered_at - _m.c.accepted_at)
    return (select(vendor.label("vendor"), country.label("country"),
                   func.percentile_cont(list(PERCENTILES)).within_group(seconds)
                   .label("percentiles"))
            .where(*conditions, _measured).group_by(vendor, country))


def _durations(conditions: list):
    """SQLite: each measured message's seconds, for percentiles computed here."""
    seconds = (func.julianday(_m.c.delivered_at) - func.julianday(_m.c.accepted_at)) * 86400
    return (select(_m.c.vendor, _m.c.country, seconds.label("seconds"))
            .where(*conditions, _measured))


def interpolate(ordered: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the two nearest ranks."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
