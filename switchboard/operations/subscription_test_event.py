"""A `switchboard.test` event, owed to one subscription only: how an operator checks that a
subscriber receives, verifies and answers what Switchboard sends, without a provider.

It is stored like any event (a receipt with method TEST, since an event must come from
one; vendor `switchboard`) so its delivery is an ordinary row that the worker claims, signs,
sends and retries, and its attempts show wherever deliveries do. Its receipt is GENERATED,
as worker/overdue.py's are: no provider sent it, so the home chart does not count it as a
callback, renormalize does not try to re-parse it and the event view shows no receipt. It
never owes a fan-out: the one delivery row is written here, to the subscription asked for,
whatever its event_types, as a ping should reach the subscriber however it filters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from switchboard.events import isoformat
from switchboard.ids import new_id
from switchboard.models.tables import GENERATED
from switchboard.operations import subscriptions as subs
from switchboard.operations.common import OperationError
from switchboard.store.events import insert_event
from switchboard.store.generated import insert_receipts
from switchboard.worker import outbox

TEST_TYPE = "switchboard.test"
TEST_VENDOR = "switchboard"


def send_test_event(conn: Connection, subscription_id: str, now: datetime) -> dict:
    """Store a test event and its one pending delivery; {"event_id", "delivery_id"}."""
    sub = subs.get_row(conn, subscription_id)
    if not sub.active:
        # The worker would cancel the delivery at once: say so now instead.
        raise OperationError("subscription_id", f"subscription {subscription_id} is disabled; "
                         "enable it first", 409, "not_active")
    receipt_id, event_id = new_id("rcv"), new_id("evt")
    insert_receipts(conn, [{
        "id": receipt_id, "vendor": TEST_VENDOR, "received_at": now, "method": "TEST",
        "content_type": None, "query_string": None, "headers": {}, "body": b"",
        "state": GENERATED, "error": None, "request_id": None}])
    data = {"subscription_id": subscription_id,
            "message": "A test event sent from the Switchboard console.",
            "sent_at": isoformat(now)}
    insert_event(conn, {
        "id": event_id, "dedup_key": f"{TEST_TYPE}:{event_id}", "receipt_id": receipt_id,
        "vendor": TEST_VENDOR, "type": TEST_TYPE, "vendor_event_id": None, "message_id": None,
        "status": None, "occurred_at": now, "received_at": now, "disposition": "fanout",
        "data": data, "raw": None, "fanout_owed": None})
    row = outbox.delivery_row(event_id, now, subscription_id=subscription_id)
    outbox.write(conn, [row])
    return {"event_id": event_id, "delivery_id": row["id"]}
