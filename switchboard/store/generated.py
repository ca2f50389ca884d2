"""The rows behind the events Switchboard makes itself (a receipt overdue, a console test
event): their receipts (state `generated`) and the events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from switchboard.models import Event, Receipt
from switchboard.store.statements import next_sequence
from switchboard.store.upsert import insert_new

_e = Event.__table__
_r = Receipt.__table__


def insert_receipts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Receipt rows, each with every column."""
    conn.execute(_r.insert(), rows)


def insert_sequenced_event(conn: Connection, row: dict[str, Any]) -> bool:
    """An event of a message, given its message's next sequence as a receipt's would be,
    unless an event with its dedup_key is stored (then no number is taken and the unique key
    refuses it); whether it went in."""
    row["sequence"] = next_sequence(conn, row["vendor"], row["message_id"], row["dedup_key"])
    return insert_new(conn, _e, [_e.c.dedup_key], row)
