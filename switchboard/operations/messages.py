"""One message for operators: the status it reached (a projection of its receipts) and the
ordered history of the events behind it, late ones marked superseded."""

from __future__ import annotations

from sqlalchemy import Connection

from switchboard.events import isoformat
from switchboard.operations.common import OperationError, check_id
from switchboard.operations.events import summary
from switchboard.store.events import message_history, message_status


def get_message(conn: Connection, vendor: str, message_id: str) -> dict:
    """Its status and its events, in the order things happened at the provider."""
    check_id(vendor, "vendor", "vendor")
    check_id(message_id, "message", "message_id")
    status = message_status(conn, vendor, message_id)
    history = message_history(conn, vendor, message_id)
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
