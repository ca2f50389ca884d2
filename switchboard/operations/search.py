"""Find things for operators from one search box: an event by its id, messages by their
id (on any vendor), and events to or from a phone number in any format phonenumbers reads,
matched as E.164 against the event's `to` and `from`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from switchboard.ids import id_pattern
from switchboard.operations.common import (
    OperationError,
    decode_cursor,
    limit_param,
    page,
    reject_unknown,
    text_param,
)
from switchboard.operations.events import summary
from switchboard.store.events import event_by_id, events_to_or_from, messages_with_id
from switchboard.vendors.base import e164

PARAMETERS = ("q", "country", "limit", "cursor", "messages_cursor")


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
        row = event_by_id(conn, query)
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
    """Messages with this id, one a vendor, newest first by each one's first event."""
    rows, next_cursor = page(messages_with_id(conn, message_id, cursor, limit + 1), limit,
                             lambda r: (r.first_at, r.first_id))
    return [{"vendor": r.vendor, "message_id": r.message_id} for r in rows], next_cursor


def by_phone(conn: Connection, number: str, limit: int,
             cursor: tuple[Any, str] | None) -> tuple[list[dict], str | None]:
    """Events to or from `number`, newest first, keyset-paged."""
    shown, next_cursor = page(events_to_or_from(conn, number, cursor, limit + 1), limit,
                              lambda r: (r.received_at, r.id))
    return [summary(row) for row in shown], next_cursor
