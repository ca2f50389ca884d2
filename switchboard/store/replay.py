"""What replay and renormalize read and write: the events a replay names, in id order; the
receipts a renormalize parses again; the events and receipts it changes; and a message's
status row rebuilt from its events.

A replay names its events either by id (`event_ids`) or by an event filter's set fields
(`filters`, operations.events.EventFilter.fields()); a filter only ever matches events that
were fanned out, so it never resends a late receipt."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from switchboard.models import Event, MessageStatus, Receipt
from switchboard.models.tables import GENERATED
from switchboard.store.events import matching

_receipts = Receipt.__table__
_events = Event.__table__
_status = MessageStatus.__table__

# A filter of these fields alone can be matched on receipts themselves, so a renormalize
# also finds the receipts that never parsed into an event.
_RECEIPT_FIELDS = frozenset({"vendor", "since", "until"})


def _named(event_ids: list[str] | None, filters: Mapping[str, Any]) -> list:
    """WHERE clauses on events for the events a replay names."""
    if event_ids is not None:
        return [_events.c.id.in_(event_ids)]
    return [_events.c.disposition == "fanout", *matching(filters)]


def replay_batch(conn: Connection, event_ids: list[str] | None, filters: Mapping[str, Any],
                 after: str | None, limit: int) -> list[Any]:
    """(id, type, vendor) of the next `limit` events the replay names after the event id
    `after` (None: from the first), in id order."""
    query = select(_events.c.id, _events.c.type, _events.c.vendor) \
        .where(*_named(event_ids, filters))
    if after:
        query = query.where(_events.c.id > after)
    return conn.execute(query.order_by(_events.c.id).limit(limit)).all()


def replay_count(conn: Connection, event_ids: list[str] | None, filters: Mapping[str, Any],
                 after: str | None) -> int:
    """How many events the replay names after the event id `after`."""
    query = select(func.count()).select_from(_events).where(*_named(event_ids, filters))
    if after:
        query = query.where(_events.c.id > after)
    return conn.execute(query).scalar_one()


def replayed_of(conn: Connection, owed: list[str],
                filters: Mapping[str, Any] | None) -> list[Any]:
    """(id, type, vendor) of the events in `owed` that a replay by `filters` names (every one
    for a replay by ids: its events' receipts may have made new events), in id order."""
    where = [_events.c.id.in_(owed)]
    if filters is not None:
        where += _named(None, filters)
    return conn.execute(select(_events.c.id, _events.c.type, _events.c.vendor)
                        .where(*where).order_by(_events.c.id)).all()


def _receipts_named(event_ids: list[str] | None, filters: Mapping[str, Any], after: str):
    """The provider receipts after the receipt id `after` behind the replay's events, in id
    order: a generated receipt (worker/overdue.py, a test event) has nothing to re-parse."""
    query = select(_receipts).where(_receipts.c.id > after, _receipts.c.state != GENERATED) \
        .order_by(_receipts.c.id)
    if event_ids is not None or set(filters) - _RECEIPT_FIELDS:
        their_events = select(_events.c.receipt_id).where(*_named(event_ids, filters))
        return query.where(_receipts.c.id.in_(their_events))
    if filters.get("vendor") is not None:
        query = query.where(_receipts.c.vendor == filters["vendor"])
    if filters.get("since") is not None:
        query = query.where(_receipts.c.received_at >= filters["since"])
    if filters.get("until") is not None:
        query = query.where(_receipts.c.received_at < filters["until"])
    return query


def receipts_batch(conn: Connection, event_ids: list[str] | None, filters: Mapping[str, Any],
                   after: str, limit: int) -> list[Any]:
    """The next `limit` receipts a renormalize parses again, after the receipt id `after`
    ("" from the first)."""
    return conn.execute(_receipts_named(event_ids, filters, after).limit(limit)).all()


def receipts_count(conn: Connection, event_ids: list[str] | None, filters: Mapping[str, Any],
                   after: str) -> int:
    """How many receipts a renormalize parses again after the receipt id `after`."""
    query = _receipts_named(event_ids, filters, after).order_by(None)
    return conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def record_parse_error(conn: Connection, receipt_id: str, error: str) -> None:
    """A receipt that still does not parse: today's reason."""
    conn.execute(update(_receipts).where(_receipts.c.id == receipt_id).values(error=error))


def mark_parsed(conn: Connection, receipt_id: str) -> None:
    """A receipt that parses today: parsed, its old error cleared."""
    conn.execute(update(_receipts).where(_receipts.c.id == receipt_id)
                 .values(state="parsed", error=None))


def event_by_dedup_key(conn: Connection, dedup_key: str) -> Any:
    """The stored event with this dedup key, or None."""
    return conn.execute(select(_events).where(_events.c.dedup_key == dedup_key)).first()


def update_event(conn: Connection, event_id: str, values: Mapping[str, Any]) -> None:
    """A stored event's columns as parsing its receipt again gives them."""
    conn.execute(update(_events).where(_events.c.id == event_id).values(**values))


def status_events(conn: Connection, vendor: str, message_id: str) -> list[Any]:
    """A message's events that carry a status, in arrival order (received_at, id): what its
    status row is rebuilt from."""
    return conn.execute(select(_events.c.id, _events.c.status, _events.c.data,
                               _events.c.disposition, _events.c.occurred_at,
                               _events.c.received_at)
                        .where(_events.c.vendor == vendor, _events.c.message_id == message_id,
                               _events.c.status.is_not(None))
                        .order_by(_events.c.received_at, _events.c.id)).all()


def _this(vendor: str, message_id: str) -> tuple:
    return (_status.c.vendor == vendor, _status.c.message_id == message_id)


def overdue_at(conn: Connection, vendor: str, message_id: str) -> datetime | None:
    """When the message was marked overdue; None when it was not, or has no status row."""
    return conn.execute(select(_status.c.overdue_at).where(*_this(vendor, message_id))).scalar()


def change_disposition(conn: Connection, event_id: str, disposition: str) -> None:
    """An event's disposition (fanout, superseded, conflict) as a rebuilt status decides it;
    what it owes stays as it is."""
    conn.execute(update(_events).where(_events.c.id == event_id)
                 .values(disposition=disposition))


def replace_status(conn: Connection, vendor: str, message_id: str,
                   values: Mapping[str, Any] | None) -> None:
    """The message's status row becomes `values` (None: it has none)."""
    conn.execute(delete(_status).where(*_this(vendor, message_id)))
    if values is not None:
        conn.execute(_status.insert().values(vendor=vendor, message_id=message_id, **values))
