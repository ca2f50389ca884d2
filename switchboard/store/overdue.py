"""The receipt-overdue check's claim (worker/overdue.py): messages whose latest receipt is
too old, marked so that each goes overdue once whatever the number of workers.

Candidates come from ix_message_status_overdue, a partial index of the messages that may
still go overdue by their latest receipt, so a check reads a range of it however many
messages are stored. PostgreSQL picks them FOR UPDATE SKIP LOCKED, so workers take disjoint
batches; SQLite runs the claim under its one write lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, literal_column, select, tuple_, update

from switchboard.events import TERMINAL_RANK
from switchboard.models import MessageStatus

_m = MessageStatus.__table__

# The partial index's own predicate, written as a constant (a bound parameter would not prove
# it to a generic plan).
MAY_GO_OVERDUE = and_(_m.c.rank < literal_column(str(TERMINAL_RANK)), _m.c.overdue_at.is_(None))
CANDIDATES = (
    select(_m.c.vendor, _m.c.message_id)
    .where(MAY_GO_OVERDUE,
           _m.c.last_receipt_at < bindparam("cutoff"))
    .order_by(_m.c.last_receipt_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
# The conditions again on the row itself: on PostgreSQL a receipt committed between the
# pick and the update (it waited on the row lock) is seen here, and the row is left alone.
CLAIM = (
    update(_m)
    .where(tuple_(_m.c.vendor, _m.c.message_id).in_(CANDIDATES), MAY_GO_OVERDUE,
           _m.c.last_receipt_at < bindparam("cutoff"))
    .values(overdue_at=bindparam("now"))
    .returning(_m.c.vendor, _m.c.message_id, _m.c.status, _m.c.last_receipt_at)
)


def claim_overdue(conn: Connection, cutoff: datetime, now: datetime, limit: int) -> list[Any]:
    """Mark up to `limit` messages not yet terminal whose latest receipt came before
    `cutoff`, oldest first, as gone overdue `now`; their vendor, message_id, status and
    last_receipt_at."""
    return conn.execute(CLAIM, {"cutoff": cutoff, "limit": limit, "now": now}).all()
