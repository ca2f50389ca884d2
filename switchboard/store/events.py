"""Events as operators read them: a filtered page, one event with its receipt, deliveries
and attempts, a message's status and history, and the searches by message id and by phone
number.

Pages are newest first and keyset-paged: `after` is the (time, id) of the last row of the
page before, and a page is the rows strictly after it, so rows stored meanwhile (which sort
first) never shift it and no OFFSET is scanned. `limit` is how many rows to fetch; the
caller asks for one more than it shows, to know whether a next page exists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, String, func, literal_column, select, tuple_

from switchboard.models import Attempt, Delivery, Event, MessageStatus, Receipt
from switchboard.models.functions import party_sql
from switchboard.models.tables import GENERATED

_e = Event.__table__
_r = Receipt.__table__
_d = Delivery.__table__
_a = Attempt.__table__
_m = MessageStatus.__table__

_EQUAL = ("vendor", "type", "status", "message_id")
PARTIES = {name: literal_column(party_sql(name), String) for name in ("to", "from")}
_NEWEST_FIRST = (_e.c.received_at.desc(), _e.c.id.desc())


def older_than(after: tuple[datetime, str], moment: Any, row_id: Any) -> Any:
    """The rows past `after` in newest-first order of (moment, row_id): the next page."""
    return tuple_(moment, row_id) < tuple_(*after, types=(moment.type, row_id.type))


def matching(filters: Mapping[str, Any]) -> list:
    """WHERE clauses on events for an event filter's fields: vendor, type, status and
    message_id equal; received at or after `since`, before `until`. A field it does not know
    is refused: ignored, it would widen a replay to every event."""
    unknown = set(filters) - {*_EQUAL, "since", "until"}
    if unknown:
        raise ValueError(f"no event filter field {sorted(unknown)[0]!r}")
    where = [_e.c[name] == filters[name] for name in _EQUAL if filters.get(name) is not None]
    if filters.get("since") is not None:
        where.append(_e.c.received_at >= filters["since"])
    if filters.get("until") is not None:
        where.append(_e.c.received_at < filters["until"])
    return where


def events_page(conn: Connection, filters: Mapping[str, Any],
                after: tuple[datetime, str] | None, limit: int) -> list[Any]:
    """Events matching `filters`, newest first by (received_at, id)."""
    query = select(_e).order_by(*_NEWEST_FIRST).where(*matching(filters))
    if after is not None:
        query = query.where(older_than(after, _e.c.received_at, _e.c.id))
    return conn.execute(query.limit(limit)).all()


def event_by_id(conn: Connection, event_id: str) -> Any:
    """One event's row, or None."""
    return conn.execute(select(_e).where(_e.c.id == event_id)).first()


def provider_receipt(conn: Connection, receipt_id: str) -> Any:
    """The callback an event came from, or None when the receipt was generated (a receipt
    overdue, a test event): that is no provider's callback."""
    return conn.execute(select(_r).where(_r.c.id == receipt_id,
                                         _r.c.state != GENERATED)).first()


def deliveries_of(conn: Connection, event_ids: list[str]) -> list[Any]:
    """The deliveries of these events, in the order they were made."""
    return conn.execute(select(_d).where(_d.c.event_id.in_(event_ids))
                        .order_by(_d.c.created_at, _d.c.id)).all()


def attempts_of(conn: Connection, delivery_ids: list[str]) -> list[Any]:
    """The attempts of these deliveries, in the order they were made."""
    return conn.execute(select(_a).where(_a.c.delivery_id.in_(delivery_ids))
                        .order_by(_a.c.id)).all()


def message_status(conn: Connection, vendor: str, message_id: str) -> Any:
    """A message's status row, or None."""
    return conn.execute(select(_m).where(_m.c.vendor == vendor,
                                         _m.c.message_id == message_id)).first()


def message_history(conn: Connection, vendor: str, message_id: str) -> list[Any]:
    """A message's events in the order things happened at the provider (occurred_at, then
    received_at; an event without a provider time counts from when it reached us)."""
    return conn.execute(
        select(_e).where(_e.c.vendor == vendor, _e.c.message_id == message_id)
        .order_by(func.coalesce(_e.c.occurred_at, _e.c.received_at), _e.c.received_at,
                  _e.c.id)).all()


def messages_with_id(conn: Connection, message_id: str, after: tuple[datetime, str] | None,
                     limit: int) -> list[Any]:
    """(vendor, message_id, first_at, first_id) of each vendor's message with this id, newest
    first by its first event (the keyset), through ix_events_message_sequence."""
    first_at, first_id = func.min(_e.c.received_at), func.min(_e.c.id)
    query = select(_e.c.vendor, _e.c.message_id, first_at.label("first_at"),
                   first_id.label("first_id")) \
        .where(_e.c.message_id == message_id).group_by(_e.c.vendor, _e.c.message_id) \
        .order_by(first_at.desc(), first_id.desc()).limit(limit)
    if after is not None:
        query = query.having(older_than(after, first_at, first_id))
    return conn.execute(query).all()


def events_to_or_from(conn: Connection, number: str, after: tuple[datetime, str] | None,
                      limit: int) -> list[Any]:
    """Events whose `to` or `from` is this E.164 number, newest first.

    Walks ix_events_to_received and ix_events_from_received backwards, one per side, each
    stopping after `limit` rows, and merges the two: fast whatever the number's volume,
    where an OR over both would sort every match first."""
    rows: dict[str, Any] = {}
    for party in PARTIES.values():
        query = select(_e).where(party == number).order_by(*_NEWEST_FIRST).limit(limit)
        if after is not None:
            query = query.where(older_than(after, _e.c.received_at, _e.c.id))
        for row in conn.execute(query):
            rows[row.id] = row  # to and from the same number: one row
    merged = sorted(rows.values(), key=lambda r: (r.received_at, r.id), reverse=True)
    return merged[:limit]


def insert_event(conn: Connection, row: Mapping[str, Any]) -> None:
    """One event row, every column given, off the hot path (a receipt parsed again, an event
    Switchboard makes itself); callbacks insert theirs through store/statements.py."""
    conn.execute(_e.insert(), dict(row))
