"""How the console shows things: times in UTC with their age beside them, so an operator
reading a page at 3 a.m. in any zone knows both when and how long ago."""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape

from switchboard import clock
from switchboard.operations.common import parse_time

_UNITS = ((86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def age(seconds: float) -> str:
    """3 s, 5 min, 2 h 10 min, 4 d 3 h: the two largest units, never more."""
    seconds = int(abs(seconds))
    if seconds < 1:
        return "0 s"
    parts = []
    for size, unit in _UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        if len(parts) == 2 or (parts and size == 1):
            break
    return " ".join(parts[:2])


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return parse_time(value, "time")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(value: datetime | str | None) -> Markup:
    """`<time>` in UTC to the second, and its relative age ("5 min ago", "in 2 h")."""
    moment = _moment(value)
    if moment is None:
        return Markup('<span class="muted">—</span>')
    moment = moment.astimezone(UTC)
    delta = (clock.now() - moment).total_seconds()
    relative = f"{age(delta)} ago" if delta >= 0 else f"in {age(delta)}"
    stamp = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup('<time datetime="{}">{}</time> <span class="age">({})</span>').format(
        moment.isoformat().replace("+00:00", "Z"), escape(stamp), relative)
