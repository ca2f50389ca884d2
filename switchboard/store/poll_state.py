"""What a poller remembers of each remote object it has ingested (poll_state), so that a
restart neither loses nor repeats one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from switchboard.models import PollState
from switchboard.store.upsert import upsert

_p = PollState.__table__


def remembered(conn: Connection, vendor: str, object_ids: list[str]) -> dict[str, str]:
    """{object id: state} of those of `object_ids` this vendor's poller has seen."""
    query = select(_p.c.object_id, _p.c.state).where(
        _p.c.vendor == vendor, _p.c.object_id.in_(object_ids))
    return {row.object_id: row.state for row in conn.execute(query)}


def remember(conn: Connection, vendor: str, object_id: str, state: str,
             now: datetime) -> None:
    """Record an object's state as seen `now`, over what was remembered of it."""
    upsert(conn, _p, (_p.c.vendor, _p.c.object_id),
           {"vendor": vendor, "object_id": object_id, "state": state, "seen_at": now})
