"""The provider scorecard: per vendor and country, how many messages, how many delivered,
failed, pending and overdue, why they failed, and how long delivery took.

Read from message_status alone (ingest keeps there what this needs: router/projection.py),
over the messages whose first receipt reached us in the window (store/scorecard.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from switchboard.events import REASONS, isoformat
from switchboard.operations.common import (
    OperationError,
    choice_param,
    reject_unknown,
    text_param,
    time_param,
)
from switchboard.store.scorecard import read_scorecard
from switchboard.vendors.registry import VENDORS

PARAMETERS = ("since", "until", "vendor", "country")
DEFAULT_WINDOW = timedelta(days=7)
COUNTRY = re.compile(r"^[A-Za-z]{2}$")


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
        if country is not None and not COUNTRY.fullmatch(country):
            raise OperationError("country", "country must be an ISO 3166 alpha-2 code, e.g. CA")
        return cls(since, until, choice_param(args, "vendor", VENDORS),
                   country.upper() if country else None)


def _week_before(moment: datetime) -> datetime:
    try:
        return moment - DEFAULT_WINDOW
    except OverflowError:  # within a week of year 1: from the first moment there is
        return datetime.min.replace(tzinfo=UTC)


def provider_stats(conn: Connection, where: StatsFilter) -> dict:
    counted, percentiles = read_scorecard(conn, where.since, where.until, where.vendor,
                                          where.country)
    counted.sort(key=lambda r: (r.vendor, r.country is None, r.country or ""))
    return {"since": isoformat(where.since), "until": isoformat(where.until),
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
