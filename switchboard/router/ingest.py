"""Ingest: one verified callback stored in one transaction, exactly once.

Receipt, events, the status projection and the delivery rows (the outbox) commit together
or not at all. Dedup is the events table's unique dedup_key with INSERT ... ON CONFLICT DO
NOTHING, so concurrent copies of one callback race safely: one inserts, the rest find its id.

This is the hot path: its SQL runs on the driver (router/statements.py), and on PostgreSQL
the receipt, event and status inserts share one round trip (psycopg pipeline mode), the
commit another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from switchboard.events import STATUS_RANK, NormalizedEvent
from switchboard.ids import new_id
from switchboard.models.db import RawTransaction
from switchboard.router import outbox
from switchboard.router.projection import FANOUT, project
from switchboard.router.statements import IngestSql, dumps, sql_for, time_writer
from switchboard.vendors.base import Inbound


@dataclass
class IngestResult:
    status: str  # accepted | duplicate
    event_ids: list[str]
    new_event_ids: list[str]
    fanout_event_ids: list[str]


def receipt_params(inbound: Inbound, kept_headers: tuple[str, ...], received_at,
                   state: str, error: str | None = None) -> tuple:
    """A receipts row (statements.RECEIPT_COLUMNS), received_at already as the driver
    takes it."""
    headers = {name: inbound.header(name) for name in kept_headers
               if inbound.header(name) is not None}
    return (new_id("rcv"), inbound.vendor, received_at, inbound.method, inbound.content_type,
            inbound.query_string or None, dumps(headers), inbound.body, state, error,
            inbound.request_id)


@dataclass
class _Pending:
    """One event sent to the database, its answers not read yet."""

    event: NormalizedEvent
    event_id: str
    inserted: object  # the cursor of its insert
    status_created: object | None  # the cursor of its status insert, if it projects


def ingest(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
           events: list[NormalizedEvent], now: datetime) -> IngestResult:
    dialect = engine.dialect.name
    sql, at = sql_for(dialect), time_writer(dialect)
    received_at = at(now)
    receipt = receipt_params(inbound, kept_headers, received_at, "parsed")
    # Read before the transaction (and at most once a second): not a statement of ours.
    subs = outbox.active_subscriptions(engine)
    with RawTransaction(engine) as tx:
        with tx.pipeline():
            tx.execute(sql.insert_receipt, receipt)
            pending = [_send(tx, sql, receipt[0], event, received_at, at)
                       for event in events]
        result = _settle(tx, sql, pending, subs, now, at)
        if not result.new_event_ids:
            # Every event was already stored: the copy's receipt is not worth keeping.
            tx.rollback()
    return result


def _send(tx: RawTransaction, sql: IngestSql, receipt_id: str, event: NormalizedEvent,
          received_at, at) -> _Pending:
    event_id = new_id("evt")
    inserted = tx.execute(sql.insert_event, (
        event_id, event.dedup_key, receipt_id, event.vendor, event.type,
        event.vendor_event_id, event.message_id, event.status, at(event.occurred_at),
        received_at, FANOUT, dumps(event.data), dumps(event.raw)))
    status, message_id = event.status, event.message_id
    created = None
    if status is not None and message_id is not None \
            and event.data.get("direction") == "outbound":
        # Only goes in if the event did: see statements.insert_status.
        created = tx.execute(sql.insert_status, (
            event.vendor, message_id, status, STATUS_RANK[status], event_id, received_at,
            event_id))
    return _Pending(event, event_id, inserted, created)


def _settle(tx: RawTransaction, sql: IngestSql, pending: list[_Pending],
            subs: outbox.ActiveSubscriptions, now: datetime, at) -> IngestResult:
    event_ids: list[str] = []
    new_ids: list[str] = []
    fanout: list[outbox.Routed] = []
    for item in pending:
        event = item.event
        if not item.inserted.fetchall():
            event_ids.append(tx.execute(sql.event_id_by_key, (event.dedup_key,)).fetchone()[0])
            continue
        disposition = project(tx, sql, item, now, at)
        if disposition != FANOUT:
            tx.execute(sql.set_disposition, (disposition, item.event_id))
        else:
            fanout.append(outbox.Routed(item.event_id, event.type, event.vendor))
        event_ids.append(item.event_id)
        new_ids.append(item.event_id)
    # Superseded and conflicting receipts are stored but owe nobody a delivery.
    outbox.enqueue_raw(tx, sql, subs, fanout, now, at)
    return IngestResult("accepted" if new_ids else "duplicate", event_ids, new_ids,
                        [f.event_id for f in fanout])


def store_failed_receipt(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
                         error: str, now: datetime) -> str:
    """Keep a callback that proved itself but did not parse, for re-normalisation."""
    dialect = engine.dialect.name
    row = receipt_params(inbound, kept_headers, time_writer(dialect)(now), "failed", error)
    with RawTransaction(engine) as tx:
        tx.execute(sql_for(dialect).insert_receipt, row)
    return row[0]
