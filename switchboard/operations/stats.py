"""The provider scorecard: per vendor and country, how many messages, how many delivered,
failed, pending and overdue, why they failed, and how long delivery took.

Read from message_status alone (ingest keeps there what this needs: router/projection.py),
over the messages whose first receipt reached us in the window. The percentiles are
PostgreSQL's percentile_cont; SQLite has none, so there they are interpolated the same way
from the durations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, select

from switchboard.events import FAILURE_STATUSES, REASONS, TERMINAL_RANK
from switchboard.models import MessageStatus
from switchboard.operations.common import (
    OperationError,
    choice_param,
    reject_unknown,
    text_param,
    time_param,
)
from switchboard.vendors.registry import VENDORS

PARAMETERS = ("since", "until", "vendor", "country")
DEFAULT_WINDOW = timedelta(days=7)
DELIVERED_STATUSES = ("delivered", "read")  # read comes after delivered
COUNTRY = re.compile(r"^[A-Za-z]{2}$")
PERCENTILES = (0.5, 0.95)

_m = MessageStatus.__table__
_measured = and_(_m.c.accepted_at.is_not(None), _m.c.delivered_at.is_not(None))


def _count(condition) -> Any:
    return func.sum(case((condition, 1), else_=0))


@dataclass(frozen=True)
class StatsFilter:
    since: datetime
    until: datetime
    vendor: str | None = None
    country: str | None = None

    @classmethod
    def parse(cls, args: Mapping[str, Any], now: datetime) -> StatsFilter:
        """Query parameters (or CLI options); the window defaults to the last 7 days."""
        reject_unknown(args, PARAMETERS)
        until = time_param(args, "until") or now
        # since at or after until is an empty window, as for the event lists, not an error.
        since = time_param(args, "since") or _week_before(until)
        country = text_param(args, "country")
        if country is not None and not COUNTRY.match(country):
            raise OperationError("country", "country must be an ISO 3166 alpha-2 code, e.g. CA")
        return cls(since, until, choice_param(args, "vendor", VENDORS),
                   country.upper() if country else None)

    def conditions(self) -> list:
        where = [_m.c.first_receipt_at >= self.since, _m.c.first_receipt_at < self.until]
        if self.vendor is not None:
            where.append(_m.c.vendor == self.vendor)
        if self.country is not None:
            where.append(_m.c.country == self.country)
        return where


def _week_before(moment: datetime) -> datetime:
    try:
        return moment - DEFAULT_WINDOW
    except OverflowError:  # within a week of year 1: from the first moment there is
        return datetime.min.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    """The window as given back: isoformat pads every year to four digits, as RFC 3339
    wants (strftime does not below 1000)."""
    spec = "milliseconds" if moment.microsecond else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _counts(where: StatsFilter):
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
        .where(*where.conditions()).group_by(_m.c.vendor, _m.c.country))


def _percentiles(where: StatsFilter):
    """PostgreSQL: only the measured messages, grouped by byte order ("C"): sorting by the
    database's own collation costs a third more, and the groups are the same."""
    vendor, country = _m.c.vendor.collate("C"), _m.c.country.collate("C")
    seconds = func.extract("epoch", _m.c.delivered_at - _m.c.accepted_at)
    return (select(vendor.label("vendor"), country.label("country"),
                   func.percentile_cont(list(PERCENTILES)).within_group(seconds)
                   .label("percentiles"))
            .where(*where.conditions(), _measured).group_by(vendor, country))


def _durations(where: StatsFilter):
    """SQLite: each measured message's seconds, for percentiles computed here."""
    seconds = (func.julianday(_m.c.delivered_at) - func.julianday(_m.c.accepted_at)) * 86400
    return (select(_m.c.vendor, _m.c.country, seconds.label("seconds"))
            .where(*where.conditions(), _measured))


def provider_stats(conn: Connection, where: StatsFilter) -> dict:
    if conn.dialect.name == "postgresql":
        # An analytic read over up to millions of rows: compiling it costs more than it saves.
        conn.exec_driver_sql("SET LOCAL jit = off")
        counted = conn.execute(_counts(where)).all()
        percentiles = {(r.vendor, r.country): r.percentiles
                       for r in conn.execute(_percentiles(where))}
    else:
        counted = conn.execute(_counts(where)).all()
        durations: dict[tuple, list[float]] = {}
        for row in conn.execute(_durations(where)):
            durations.setdefault((row.vendor, row.country), []).append(row.seconds)
        percentiles = {key: [interpolate(sorted(values), p) for p in PERCENTILES]
                       for key, values in durations.items()}
    counted.sort(key=lambda r: (r.vendor, r.country is None, r.country or ""))
    return {"since": _rfc3339(where.since), "until": _rfc3339(where.until),
            "providers": [_row(r, percentiles.get((r.vendor, r.country))) for r in counted]}


def _row(row: Any, percentiles: list[float] | None) -> dict:
    reasons = {reason: getattr(row, f"reason_{reason}") for reason in sorted(REASONS)}
    terminal = row.delivered + row.failed
    p50, p95 = percentiles if percentiles else (None, None)
    return {
        "vendor": row.vendor, "country": row.country, "messages": row.messages,
        "delivered": row.delivered, "failed": row.failed, "pending": row.pending,
        "overdue": row.overdue,
        "delivery_rate": round(row.delivered / terminal, 4) if terminal else None,
        "reasons": {reason: n for reason, n in reasons.items() if n},
        "time_to_deliver_seconds": {"p50": _seconds(p50), "p95": _seconds(p95)},
        "time_to_deliver_samples": row.samples,
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def interpolate(ordered: list[float], fraction: float) -> float | None:
    """percentile_cont: linear interpolation between the two nearest ranks."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
