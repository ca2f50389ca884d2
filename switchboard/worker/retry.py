"""When to try again: the retry schedule with jitter, and Retry-After."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

JITTER = 0.2
# A subscriber's Retry-After is honoured up to a day; beyond that it is likely a mistake.
MAX_RETRY_AFTER = 86400.0


def next_delay(schedule: tuple[float, ...], attempts_made: int,
               retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt, or None when the schedule is spent (dead)."""
    if attempts_made >= len(schedule):
        return None
    if retry_after is not None:
        return retry_after
    base = schedule[attempts_made]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After is delta-seconds or an HTTP date; anything else is ignored."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_AFTER)


def at(now: datetime, seconds: float) -> datetime:
    return now + timedelta(seconds=seconds)
