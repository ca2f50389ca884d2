"""Stored events back into the normalised shape subscribers and operators see: the one
place an event's JSON is made."""

from __future__ import annotations

from typing import Any

from switchboard.events import isoformat


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

