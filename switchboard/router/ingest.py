"""Ingest: one verified callback stored in one transaction, exactly once.

Receipt, events, the status projection and the delivery rows (the outbox) commit together
or not at all. Dedup is the events table's unique dedup_key with INSERT ... ON CONFLICT DO
NOTHING, so concurrent copies of one callback race safely: one inserts, the rest find its id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from switchboard.events import NormalizedEvent
from switchboard.ids import new_id
from switchboard.router import outbox
from switchboard.router.projection import FANOUT, project
from switchboard.router.statements import IngestStatements, statements_for
from switchboard.vendors.base import Inbound


@dataclass
class IngestResult:
    status: str  # accepted | duplicate
    event_ids: list[str]
    new_event_ids: list[str]
    fanout_event_ids: list[str]


def receipt_row(inbound: Inbound, kept_headers: tuple[str, ...], now: datetime,
                state: str, error: str | None = None) -> dict:
    headers = {name: inbound.header(name) for name in kept_headers
               if inbound.header(name) is not None}
    return {
        "id": new_id("rcv"), "vendor": inbound.vendor, "received_at": now,
        "method": inbound.method, "content_type": inbound.content_type,
        "query_string": inbound.query_string or None, "headers": headers,
        "body": inbound.body, "state": state, "error": error,
    }


def ingest(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
           events: list[NormalizedEvent], now: datetime) -> IngestResult:
    stmts = statements_for(engine.dialect.name)
    receipt = receipt_row(inbound, kept_headers, now, "parsed")
    with engine.begin() as conn:
        conn.execute(stmts.insert_receipt, receipt)
        result = store_events(conn, stmts, receipt["id"], events, now)
        if not result.new_event_ids:
            # Every event was already stored: the copy's receipt is not worth keeping.
            conn.rollback()
    return result


def store_events(conn: Connection, stmts: IngestStatements, receipt_id: str,
                 events: list[NormalizedEvent], now: datetime) -> IngestResult:
    event_ids: list[str] = []
    new_ids: list[str] = []
    fanout: list[outbox.Routed] = []
    for event in events:
        event_id = new_id("evt")
        inserted = conn.execute(stmts.insert_event, {
            "id": event_id, "dedup_key": event.dedup_key, "receipt_id": receipt_id,
            "vendor": event.vendor, "type": event.type,
            "vendor_event_id": event.vendor_event_id, "message_id": event.message_id,
            "status": event.status, "occurred_at": event.occurred_at, "received_at": now,
            "disposition": FANOUT, "data": event.data, "raw": event.raw,
        })
        if inserted.first() is None:
            event_ids.append(conn.execute(stmts.event_id_by_key,
                                          {"key": event.dedup_key}).scalar_one())
            continue
        disposition = project(conn, stmts, event, event_id, now)
        if disposition != FANOUT:
            conn.execute(stmts.set_disposition, {"w_id": event_id, "disposition": disposition})
        else:
            fanout.append(outbox.Routed(event_id, event.type, event.vendor))
        event_ids.append(event_id)
        new_ids.append(event_id)
    # Superseded and conflicting receipts are stored but owe nobody a delivery.
    outbox.enqueue(conn, fanout, now)
    return IngestResult("accepted" if new_ids else "duplicate", event_ids, new_ids,
                        [f.event_id for f in fanout])


def store_failed_receipt(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
                         error: str, now: datetime) -> str:
    """Keep a callback that proved itself but did not parse, for re-normalisation."""
    row = receipt_row(inbound, kept_headers, now, "failed", error)
    with engine.begin() as conn:
        conn.execute(statements_for(engine.dialect.name).insert_receipt, row)
    return row["id"]
