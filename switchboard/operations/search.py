"""Find things for operators from one search box: an event by its id, messages by their
id (on any vendor), and events to or from a phone number in any format phonenumbers reads,
matched as E.164 against the event's `to` and `from`.

A phone search walks ix_events_to_received and ix_events_from_received backwards, one
per side, each stopping after a page, and merges the two: fast whatever the number's
volume, where an OR over both would sort every match first."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, String, func, literal_column, select, tuple_

from switchboard.ids import id_pattern
from switchboard.models import Event
from switchboard.models.functions import party_sql
from switchboard.operations.common import (
    OperationError,
    decode_cursor,
    limit_param,
    page,
    reject_unknown,
    text_param,
)
from switchboard.operations.events import summary
from switchboard.vendors.base import e164

_e = Event.__table__
PARAMETERS = ("q", "country", "limit", "cursor", "messages_cursor")
PARTIES = {name: literal_column(party_sql(name), String) for name in ("to", "from")}


def phone(query: str, country: str | None) -> str | None:
    """The E.164 form of a number, or None when the text is not one for sure."""
    number = e164(query, country)
    return number if number and number.startswith("+") else None


def search(conn: Connection, args: Mapping[str, Any]) -> dict:
    """{"query", "event", "messages", "messages_next_cursor", "phone", "events",
    "next_cursor"}: every kind of match the text could be, so a numeric message id and a
    phone number are both found. Each list pages by its own keyset cursor: `cursor` the
    phone's events, `messages_cursor` the messages; paging one leaves the other out."""
    reject_unknown(args, PARAMETERS)
    query = (text_param(args, "q") or "").strip()
    if not query:
        raise OperationError("q", "give an event id, a message id or a phone number")
    country = text_param(args, "country")
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise OperationError("country", "country must be a two-letter ISO code such as GB")
    limit, cursor = limit_param(args), decode_cursor(args)
    messages_cursor = decode_cursor(args, "messages_cursor")
    found: dict[str, Any] = {"query": query, "event": None, "messages": [],
                             "messages_next_cursor": None, "phone": None, "events": [],
                             "next_cursor": None}
    if re.fullmatch(id_pattern("evt"), query):
        row = conn.execute(select(_e).where(_e.c.id == query)).first()
        found["event"] = summary(row) if row is not None else None
    if cursor is None:
        found["messages"], found["messages_next_cursor"] = by_message_id(
            conn, query, limit, messages_cursor)
    number = phone(query, country)
    if number is not None and messages_cursor is None:
        found["phone"] = number
        found["events"], found["next_cursor"] = by_phone(conn, number, limit, cursor)
    return found


def by_message_id(conn: Connection, message_id: str, limit: int,
                  cursor: tuple[Any, str] | None) -> tuple[list[dict], str | None]:
    """Messages with this id, one a vendor, newest first by each one's first event (its
    time and id, the keyset the cursor carries), through ix_events_message_sequence."""
    first_at, first_id = func.min(_e.c.received_at), func.min(_e.c.id)
    query = select(_e.c.vendor, _e.c.message_id, first_at.label("first_at"),
                   first_id.label("first_id")) \
        .where(_e.c.message_id == message_id).group_by(_e.c.vendor, _e.c.message_id) \
        .order_by(first_at.desc(), first_id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.having(tuple_(first_at, first_id) < tuple_(
            *cursor, types=(_e.c.received_at.type, _e.c.id.type)))
    rows, next_cursor = page(conn.execute(query).all(), limit,
                             lambda r: (r.first_at, r.first_id))
    return [{"vendor": r.vendor, "message_id": r.message_id} for r in rows], next_cursor


def by_phone(conn: Connection, number: str, limit: int,
             cursor: tuple[Any, str] | None) -> tuple[list[dict], str | None]:
    """Events to or from `number`, newest first, keyset-paged."""
    key = tuple_(_e.c.received_at, _e.c.id)
    rows: dict[str, Any] = {}
    for party in PARTIES.values():
        query = select(_e).where(party == number) \
            .order_by(_e.c.received_at.desc(), _e.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(key < tuple_(*cursor, types=(_e.c.received_at.type,
                                                             _e.c.id.type)))
        for row in conn.execute(query):
            rows[row.id] = row  # to and from the same number: one row
    merged = sorted(rows.values(), key=lambda r: (r.received_at, r.id), reverse=True)
    shown, next_cursor = page(merged[:limit + 1], limit, lambda r: (r.received_at, r.id))
    return [summary(row) for row in shown], next_cursor
