"""Stored events back into the normalised shape subscribers and operators see: the one
place an event's JSON is made."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine

from switchboard.events import isoformat
from switchboard.store.events import event_by_id


def event_json(event_id: str, row: Any) -> dict:
    """The event as subscribers, handlers and operators get it. The id is given apart because
    the worker's row is a delivery's, with the event's id beside its own."""
    return {
        "id": event_id,
        "type": row.type,
        "vendor": row.vendor,
        "vendor_event_id": row.vendor_event_id,
        "occurred_at": isoformat(row.occurred_at),
        "received_at": isoformat(row.received_at),
        "sequence": row.sequence,
        "data": row.data,
        "raw": row.raw,
    }


def load_event(bind: Engine | Connection, event_id: str) -> dict | None:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            row = event_by_id(conn, event_id)
    else:
        row = event_by_id(bind, event_id)
    return event_json(row.id, row) if row else None
