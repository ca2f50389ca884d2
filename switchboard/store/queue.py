"""The workers' queue as /metrics and the console's home read it: pending and dead
deliveries, and events still owed their fan-out. Each reads a range of one index, not the
table, so a scrape costs the same however many deliveries are kept. Times come back aware
(read_time): an aggregate skips the column's type."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select

from switchboard.models import Delivery, Event
from switchboard.store.statements import read_time

_d = Delivery.__table__
_e = Event.__table__

# Both use ix_deliveries_due (state, next_attempt_at).
PENDING = select(func.count(), func.min(_d.c.created_at), func.min(_d.c.next_attempt_at)) \
    .where(_d.c.state == "pending")
DEAD = select(func.count()).where(_d.c.state == "dead")
# Through ix_events_fanout_owed: as many rows as the workers' backlog.
OWED = select(func.count(), func.min(_e.c.received_at)).where(_e.c.fanout_owed.is_not(None))


def pending_deliveries(conn: Connection) -> tuple[int, datetime | None, datetime | None]:
    """How many deliveries are pending, the oldest one's creation and the earliest due."""
    pending, oldest, earliest_due = conn.execute(PENDING).one()
    return pending, read_time(oldest), read_time(earliest_due)


def dead_deliveries(conn: Connection) -> int:
    """How many deliveries are out of retries, waiting for an operator."""
    return conn.execute(DEAD).scalar_one()


def owed_fanouts(conn: Connection) -> tuple[int, datetime | None]:
    """How many events no worker has expanded into deliveries yet, and the oldest's arrival."""
    owed, oldest = conn.execute(OWED).one()
    return owed, read_time(oldest)
