"""Replay: owe stored events again to the subscriptions and handlers that match today.

Replayed deliveries are new rows marked `replay`, sent by the normal worker with its
retries, under the event's own id as `webhook-id` so a subscriber that dedups can tell.
Events are walked in id order (ids sort by creation) in bounded batches, each its own
transaction, so 100k events never make one huge transaction or sit in memory, and an
interrupted run resumes after the last event id it reported. With renormalize the walk is
over receipts instead (see renormalize.py) and only what it changed or created is replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from switchboard.config import Settings
from switchboard.operations.common import OperationError
from switchboard.operations.events import FILTER_FIELDS, EventFilter
from switchboard.store.replay import replay_batch, replay_count
from switchboard.store.subscriptions import subscription
from switchboard.worker import outbox

BATCH = 500
MAX_EVENT_IDS = 10_000
EVENT_PREFIX, RECEIPT_PREFIX = "evt_", "rcv_"


def _refused(field: str, message: str, status: int = 400) -> OperationError:
    """A replay the caller got wrong is coded invalid_replay, which clients match on."""
    return OperationError(field, message, status, "invalid_replay" if status == 400 else None)


@dataclass
class ReplayRequest:
    event_ids: list[str] | None = None
    filter: EventFilter = field(default_factory=EventFilter)
    subscription_id: str | None = None
    dry_run: bool = False
    renormalize: bool = False
    after: str | None = None  # resume: only events (with renormalize, receipts) after this id


@dataclass
class ReplayResult:
    matched: int = 0
    enqueued: int = 0
    last_event_id: str | None = None
    last_receipt_id: str | None = None  # renormalize walks receipts: its resume point
    renormalized: dict[str, Any] | None = None

    def as_json(self) -> dict:
        answer: dict[str, Any] = {"matched": self.matched, "enqueued": self.enqueued}
        if self.renormalized is not None:
            answer["renormalized"] = self.renormalized
        return answer


def parse_request(body: Any) -> ReplayRequest:
    """Validate a POST /api/replays body (or the CLI's equivalent)."""
    if not isinstance(body, dict):
        raise _refused("body", "expected a JSON object")
    unknown = sorted(set(body) - {"event_ids", "filter", "subscription_id", "dry_run",
                                  "renormalize"})
    if unknown:
        raise _refused(unknown[0], f"unknown field {unknown[0]!r}")
    event_ids, filter_ = body.get("event_ids"), body.get("filter")
    if (event_ids is None) == (filter_ is None):
        raise _refused("event_ids", "give either event_ids or filter, not both or neither")
    if event_ids is not None:
        if (not isinstance(event_ids, list) or not event_ids
                or not all(isinstance(i, str) for i in event_ids)):
            raise _refused("event_ids", "event_ids must be a non-empty list of event ids")
        if len(event_ids) > MAX_EVENT_IDS:
            raise _refused("event_ids", f"at most {MAX_EVENT_IDS} ids; use a filter")
    where = check_filter(filter_) if filter_ is not None else EventFilter()
    for flag in ("dry_run", "renormalize"):
        if not isinstance(body.get(flag, False), bool):
            raise _refused(flag, f"{flag} must be true or false")
    subscription_id = body.get("subscription_id")
    if subscription_id is not None and not isinstance(subscription_id, str):
        raise _refused("subscription_id", "subscription_id must be a string")
    return ReplayRequest(event_ids=event_ids, filter=where,
                         subscription_id=subscription_id, dry_run=body.get("dry_run", False),
                         renormalize=body.get("renormalize", False))


def check_filter(filter_: Any) -> EventFilter:
    """A replay's filter through the events list's own parser (operations.events.EventFilter).
    In JSON an empty string is refused rather than read as "no filter": a replay must not
    widen to every event by accident."""
    if not isinstance(filter_, dict):
        raise _refused("filter", "filter must be an object")
    for key, value in filter_.items():
        if key in FILTER_FIELDS and (not isinstance(value, str) or not value):
            raise _refused(f"filter.{key}", f"filter.{key} must be a non-empty string")
    try:
        return EventFilter.parse(filter_, paged=False)
    except OperationError as exc:
        raise _refused(f"filter.{exc.field}", exc.message) from None


def _check_after(after: str | None, prefix: str) -> None:
    """A resume point of the wrong kind would silently walk everything again."""
    if after is not None and not after.startswith(prefix):
        raise _refused("after", f"after must be the {prefix}... id the interrupted run "
                       "printed" + (" (renormalize walks receipts)"
                                    if prefix == RECEIPT_PREFIX else ""))


def _check_subscription(conn: Connection, subscription_id: str | None) -> None:
    if subscription_id is None:
        return
    row = subscription(conn, subscription_id, include_deleted=True)
    if row is None or row.deleted_at is not None:
        raise _refused("subscription_id", f"no subscription {subscription_id!r}", 404)
    if not row.active:
        # The request is right; the subscription's state forbids it, as for a retry.
        raise OperationError("subscription_id", "the subscription is disabled; enable it first",
                             409, "not_active")


def replay(engine: Engine, settings: Settings, request: ReplayRequest, now: datetime,
           progress: Callable[[ReplayResult], None] | None = None) -> ReplayResult:
    result = ReplayResult()
    with engine.connect() as conn:
        _check_subscription(conn, request.subscription_id)
    if request.renormalize:
        # What it changed or created is replayed, batch by batch; nothing else is.
        from switchboard.operations.renormalize import renormalize

        _check_after(request.after, RECEIPT_PREFIX)
        renormalize(engine, settings, request, now, result, progress)
        return result
    _check_after(request.after, EVENT_PREFIX)
    result.last_event_id = request.after
    filters = request.filter.fields()
    while True:
        with engine.begin() as conn:
            batch = replay_batch(conn, request.event_ids, filters, result.last_event_id, BATCH)
            if not batch:
                break
            rows = outbox.plan(conn, [outbox.Routed(e.id, e.type, e.vendor) for e in batch],
                               now, subscription_id=request.subscription_id,
                               include_handlers=request.subscription_id is None, replay=True)
            if not request.dry_run:
                outbox.write(conn, rows)
        result.matched += len(batch)
        result.enqueued += len(rows)
        result.last_event_id = batch[-1].id
        if progress is not None:
            progress(result)
        if len(batch) < BATCH:
            break
    return result


def count_matching(engine: Engine, request: ReplayRequest) -> int:
    """How many events the request covers, or with renormalize how many receipts it walks
    (for a progress bar's length)."""
    if request.renormalize:
        from switchboard.operations.renormalize import count_receipts

        return count_receipts(engine, request)
    with engine.connect() as conn:
        return replay_count(conn, request.event_ids, request.filter.fields(), request.after)


def replay_from_json(engine: Engine, settings: Settings, body: Any, now: datetime) -> dict:
    """POST /api/replays: validate, replay, answer {"matched", "enqueued"}."""
    return replay(engine, settings, parse_request(body), now).as_json()
