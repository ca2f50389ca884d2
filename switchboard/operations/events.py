"""Events for operators: a filtered, keyset-paged list (newest first) and one event with its
receipt, deliveries and their attempts."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from switchboard.event_rows import event_json
from switchboard.events import STATUS_RANK, isoformat
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
from switchboard.store.events import (
    attempts_of,
    deliveries_of,
    event_by_id,
    events_page,
    provider_receipt,
)
from switchboard.vendors.registry import VENDORS

FILTER_FIELDS = ("vendor", "type", "status", "message_id", "since", "until")
PARAMETERS = (*FILTER_FIELDS, "limit", "cursor")


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

    def fields(self) -> dict[str, Any]:
        """The filter fields set, with their values (limit and cursor are not filters)."""
        return {name: getattr(self, name) for name in FILTER_FIELDS
                if getattr(self, name) is not None}


def summary(row: Any) -> dict:
    """An event in a list: the normalised event without its raw payload, plus where it
    stands (disposition) and the receipt it came from."""
    event = event_json(row.id, row)
    del event["raw"]
    return event | {"message_id": row.message_id, "status": row.status,
                    "disposition": row.disposition, "receipt_id": row.receipt_id}


def list_events(conn: Connection, where: EventFilter) -> dict:
    """{"events": [...], "next_cursor": str | None}, newest first by (received_at, id),
    keyset-paged (store/events.py)."""
    rows, next_cursor = page(events_page(conn, where.fields(), where.cursor, where.limit + 1),
                             where.limit, lambda row: (row.received_at, row.id))
    return {"events": [summary(row) for row in rows], "next_cursor": next_cursor}


def get_event(conn: Connection, event_id: str) -> dict:
    """The event as subscribers get it, its receipt, and every delivery with its attempts."""
    check_id(event_id, "event")
    row = event_by_id(conn, event_id)
    if row is None:
        raise OperationError("id", f"no event {event_id!r}", 404)
    receipt = provider_receipt(conn, row.receipt_id)
    deliveries = deliveries_of(conn, [event_id])
    attempts: dict[str, list[dict]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in attempts_of(conn, list(attempts)):
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
