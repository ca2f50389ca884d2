"""One message for operators: the status it reached (a projection of its receipts) and the
ordered history of the events behind it, late ones marked superseded."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from switchboard.events import isoformat
from switchboard.models import Event, MessageStatus
from switchboard.operations.common import OperationError, check_id
from switchboard.operations.events import summary

_e = Event.__table__
_m = MessageStatus.__table__


def get_message(conn: Connection, vendor: str, message_id: str) -> dict:
    """History in the order things happened at the provider (occurred_at, then received_at;
    an event without a provider time counts from when it reached us)."""
    check_id(vendor, "vendor", "vendor")
    check_id(message_id, "message", "message_id")
    status = conn.execute(select(_m).where(_m.c.vendor == vendor,
                                           _m.c.message_id == message_id)).first()
    history = conn.execute(
        select(_e).where(_e.c.vendor == vendor, _e.c.message_id == message_id)
        .order_by(func.coalesce(_e.c.occurred_at, _e.c.received_at), _e.c.received_at,
                  _e.c.id)).all()
    if status is None and not history:
        raise OperationError("message_id", f"no message {message_id!r} from {vendor}", 404)
    return {
        "vendor": vendor, "message_id": message_id,
        "status": status.status if status else None,
        "updated_at": isoformat(status.updated_at) if status else None,
        "event_id": status.event_id if status else None,
        "conflict_status": status.conflict_status if status else None,
        "conflict_event_id": status.conflict_event_id if status else None,
        "history": [summary(row) for row in history],
    }
