"""Overdue receipts: a message still `unknown`, `accepted` or `sent` whose latest receipt is
older than RECEIPT_TIMEOUT gets one `message.receipt_overdue`, made by a worker and stored
and fanned out like any event.

Once per message whatever the number of workers: the claim is an UPDATE that sets the
message's overdue_at where it is still NULL (store/overdue.py), and the event's dedup key is
unique besides. A receipt that comes later is applied as usual.

The event has no provider callback behind it; its receipts row (state `generated`, the
check's facts as its body) exists because every event names one, and renormalize and the
admin API pass it by.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from switchboard.events import isoformat
from switchboard.ids import new_id
from switchboard.models.tables import GENERATED
from switchboard.router.projection import FANOUT
from switchboard.store.generated import insert_receipts, insert_sequenced_event
from switchboard.store.overdue import claim_overdue
from switchboard.store.wakeup import wake_workers

TYPE = "message.receipt_overdue"
METHOD = "CHECK"
BATCH = 500
INTERVAL = 60.0  # seconds between a worker's checks (less when the timeout is shorter)


@dataclass
class CheckResult:
    events: int = 0

    def line(self) -> str:
        return f"receipt overdue check: {self.events} messages overdue"


def dedup_key(vendor: str, message_id: str) -> str:
    # One per message ever: "switchboard:" is no provider's prefix.
    return f"switchboard:overdue:{vendor}:{message_id}"


def check(engine: Engine, timeout: float, now: datetime, batch: int = BATCH) -> CheckResult:
    """Make the overdue events due now, a batch per transaction; 0 turns the check off."""
    result = CheckResult()
    if timeout <= 0:
        return result
    while True:
        with engine.begin() as conn:
            made = check_batch(conn, timeout, now, batch)
        result.events += made
        if made < batch:
            return result


def check_batch(conn: Connection, timeout: float, now: datetime, limit: int) -> int:
    cutoff = now - timedelta(seconds=timeout)
    claimed = claim_overdue(conn, cutoff, now, limit)
    if not claimed:
        return 0
    receipts, events = [], []
    for row in claimed:
        facts = {"message_id": row.message_id, "status": row.status,
                 "last_receipt_at": isoformat(row.last_receipt_at), "timeout": timeout}
        receipt_id = new_id("rcv")
        receipts.append({"id": receipt_id, "vendor": row.vendor, "received_at": now,
                         "method": METHOD, "content_type": "application/json",
                         "query_string": None, "headers": {},
                         "body": json.dumps(facts).encode(), "state": GENERATED,
                         "error": None, "request_id": None})
        events.append(_event(row, receipt_id, facts, timeout, now))
    insert_receipts(conn, receipts)
    # The claim already keeps a message to one check; the unique key makes it certain.
    inserted = sum(insert_sequenced_event(conn, values) for values in events)
    wake_workers(conn)  # to expand the new fan-outs
    return inserted


def _event(row: Any, receipt_id: str, facts: dict, timeout: float, now: datetime) -> dict:
    return {"id": new_id("evt"), "dedup_key": dedup_key(row.vendor, row.message_id),
            "receipt_id": receipt_id, "vendor": row.vendor, "type": TYPE,
            "vendor_event_id": None, "message_id": row.message_id, "status": None,
            "occurred_at": row.last_receipt_at + timedelta(seconds=timeout),
            "received_at": now, "disposition": FANOUT, "data": facts, "raw": None,
            "fanout_owed": True}
