"""Events for operators: a filtered, keyset-paged list (newest first) and one event with its
receipt, deliveries and their attempts."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, tuple_

from switchboard.event_rows import event_json
from switchboard.events import STATUS_RANK, isoformat
from switchboard.models import Attempt, Delivery, Event, Receipt
from switchboard.models.tables import GENERATED
from switchboard.operations.common import (
    OperationError,
    check_id,
    choice_param,
    decode_cursor,
    limit_param,
    page,
    reject_unknown,
    text_param,
    time_param,
)
from switchboard.vendors.registry import VENDORS

_e = Event.__table__
_r = Receipt.__table__
_d = Delivery.__table__
_a = Attempt.__table__

FILTER_FIELDS = ("vendor", "type", "status", "message_id", "since", "until")
PARAMETERS = (*FILTER_FIELDS, "limit", "cursor")
_EQUAL = ("vendor", "type", "status", "message_id")


@dataclass(frozen=True)
class EventFilter:
    """Which events: the one parser of event filters, so the admin API, the console, the
    CLI and replay refuse and match alike."""

    vendor: str | None = None
    type: str | None = None
    status: str | None = None
    message_id: str | None = None
    since: datetime | None = None  # received at or after
    until: datetime | None = None  # received before
    limit: int = 50
    cursor: tuple[datetime, str] | None = None

    @classmethod
    def parse(cls, args: Mapping[str, Any], paged: bool = True) -> EventFilter:
        """From query parameters, CLI options or a replay's JSON filter (`paged=False`: no
        limit or cursor); OperationError names a bad one."""
        reject_unknown(args, PARAMETERS if paged else FILTER_FIELDS)
        return cls(vendor=choice_param(args, "vendor", VENDORS),
                   type=text_param(args, "type"),
                   status=choice_param(args, "status", STATUS_RANK),
                   message_id=text_param(args, "message_id"),
                   since=time_param(args, "since"), until=time_param(args, "until"),
                   **({"limit": limit_param(args), "cursor": decode_cursor(args)}
                      if paged else {}))

    def given(self) -> set[str]:
        """The filter fields set (limit and cursor are not filters)."""
        return {name for name in FILTER_FIELDS if getattr(self, name) is not None}

    def conditions(self) -> list:
        """WHERE clauses on the events table."""
        where = [_e.c[name] == getattr(self, name) for name in _EQUAL
                 if getattr(self, name) is not None]
        if self.since is not None:
            where.append(_e.c.received_at >= self.since)
        if self.until is not None:
            where.append(_e.c.received_at < self.until)
        return where


def summary(row: Any) -> dict:
    """An event in a list: the normalised event without its raw payload, plus where it
    stands (disposition) and the receipt it came from."""
    event = event_json(row.id, row)
    del event["raw"]
    return event | {"message_id": row.message_id, "status": row.status,
                    "disposition": row.disposition, "receipt_id": row.receipt_id}


def list_events(conn: Connection, where: EventFilter) -> dict:
    """{"events": [...], "next_cursor": str | None}, newest first by (received_at, id).

    Keyset paging: a page starts strictly after the last row of the one before, so events
    stored meanwhile (which sort first) never shift it, and no OFFSET is scanned."""
    key = tuple_(_e.c.received_at, _e.c.id)
    query = select(_e).order_by(_e.c.received_at.desc(), _e.c.id.desc())
    query = query.where(*where.conditions())
    if where.cursor is not None:
        query = query.where(key < tuple_(*where.cursor, types=(_e.c.received_at.type,
                                                                _e.c.id.type)))
    rows, next_cursor = page(conn.execute(query.limit(where.limit + 1)).all(), where.limit,
                             lambda row: (row.received_at, row.id))
    return {"events": [summary(row) for row in rows], "next_cursor": next_cursor}


def get_event(conn: Connection, event_id: str) -> dict:
    """The event as subscribers get it, its receipt, and every delivery with its attempts."""
    check_id(event_id, "event")
    row = conn.execute(select(_e).where(_e.c.id == event_id)).first()
    if row is None:
        raise OperationError("id", f"no event {event_id!r}", 404)
    # A generated receipt (a receipt overdue, a test event) is no provider's callback:
    # none is shown.
    receipt = conn.execute(select(_r).where(_r.c.id == row.receipt_id,
                                            _r.c.state != GENERATED)).first()
    deliveries = conn.execute(select(_d).where(_d.c.event_id == event_id)
                              .order_by(_d.c.created_at, _d.c.id)).all()
    attempts: dict[str, list[dict]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in conn.execute(select(_a).where(_a.c.delivery_id.in_(list(attempts)))
                                    .order_by(_a.c.id)):
            attempts[attempt.delivery_id].append(attempt_json(attempt))
    return summary(row) | {
        "raw": row.raw,
        "receipt": receipt_json(receipt) if receipt is not None else None,
        "deliveries": [delivery_json(d) | {"attempts": attempts[d.id]} for d in deliveries],
    }


def receipt_json(row: Any) -> dict:
    """The callback as it arrived; its body as text when it is UTF-8, else base64."""
    body: bytes = row.body or b""
    try:
        shown, encoding = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        shown, encoding = base64.b64encode(body).decode(), "base64"
    return {"id": row.id, "vendor": row.vendor, "received_at": isoformat(row.received_at),
            "method": row.method, "content_type": row.content_type,
            "query_string": row.query_string or None, "state": row.state, "error": row.error,
            "body": shown, "body_encoding": encoding,
            "request_id": row.request_id}  # its line in the logs


def delivery_json(row: Any) -> dict:
    return {"id": row.id, "event_id": row.event_id, "subscription_id": row.subscription_id,
            "handler": row.handler, "state": row.state, "attempt_count": row.attempts,
            "next_attempt_at": isoformat(row.next_attempt_at), "replay": bool(row.replay),
            "created_at": isoformat(row.created_at),
            "finished_at": isoformat(row.finished_at), "last_error": row.last_error}


def attempt_json(row: Any) -> dict:
    return {"id": row.id, "started_at": isoformat(row.started_at),
            "duration_ms": row.duration_ms, "status_code": row.status_code,
            "error": row.error, "response_body": row.response_body}
