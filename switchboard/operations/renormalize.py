"""Renormalize: parse stored raw receipts again with today's vendor modules (after a
mapping fix), update the events they made, create the ones that failed to parse when they
arrived, rebuild the affected messages' status, say what changed, and replay only that."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from switchboard.events import STATUS_RANK, NormalizedEvent
from switchboard.ids import new_id
from switchboard.operations.replay import ReplayRequest, ReplayResult
from switchboard.router.projection import (
    CONFLICT,
    DELIVERED,
    FANOUT,
    PENDING_STATUSES,
    decide,
)
from switchboard.store.events import insert_event
from switchboard.store.replay import (
    change_disposition,
    event_by_dedup_key,
    mark_parsed,
    overdue_at,
    receipts_batch,
    receipts_count,
    record_parse_error,
    replace_status,
    replayed_of,
    status_events,
    update_event,
)
from switchboard.store.statements import next_sequence, renumber
from switchboard.vendors.base import BadPayload, Inbound
from switchboard.vendors.registry import get as get_vendor
from switchboard.worker import outbox

BATCH = 200
SHOWN_CHANGES = 100
COMPARED = ("type", "status", "message_id", "vendor_event_id", "occurred_at", "data")


def renormalize(engine: Engine, settings: Any, request: ReplayRequest, now: datetime,
                result: ReplayResult,
                progress: Callable[[ReplayResult], None] | None = None) -> None:
    """Re-parse the receipts behind the request's events (and, for a filter of vendor and
    time only, the receipts that never parsed), and owe again only the events this changed
    or created. Each batch of receipts, with its replayed deliveries, is one transaction;
    receipts are walked in id order, so `request.after` (a receipt id) resumes a run."""
    report: dict[str, Any] = {"receipts": 0, "changed": [], "changed_count": 0, "created": 0,
                              "unchanged": 0, "still_failing": 0}
    result.renormalized = report
    result.last_receipt_id = request.after
    while True:
        with engine.begin() as conn:
            batch = receipts_batch(conn, request.event_ids, request.filter.fields(),
                                   result.last_receipt_id or "", BATCH)
            owed: list[str] = []
            for receipt in batch:
                owed.extend(_one(conn, settings, receipt, report, now))
            matched, enqueued = _replay_owed(conn, request, owed, now)
            if request.dry_run:
                conn.rollback()
        if not batch:
            break
        result.last_receipt_id = batch[-1].id
        report["receipts"] += len(batch)
        result.matched += matched
        result.enqueued += enqueued
        if progress is not None:
            progress(result)
        if len(batch) < BATCH:
            break


def _replay_owed(conn: Connection, request: ReplayRequest, owed: list[str],
                 now: datetime) -> tuple[int, int]:
    """Enqueue replays of the events this batch changed or created that the request
    names (store.replay.replayed_of)."""
    if not owed:
        return 0, 0
    events = replayed_of(conn, owed, request.filter.fields()
                         if request.event_ids is None else None)
    rows = outbox.plan(conn, [outbox.Routed(e.id, e.type, e.vendor) for e in events], now,
                       subscription_id=request.subscription_id,
                       include_handlers=request.subscription_id is None, replay=True)
    outbox.write(conn, rows)  # a dry run rolls the whole batch back
    return len(events), len(rows)


def count_receipts(engine: Engine, request: ReplayRequest) -> int:
    """How many receipts a renormalize walks (for a progress bar's length)."""
    with engine.connect() as conn:
        return receipts_count(conn, request.event_ids, request.filter.fields(),
                              request.after or "")


def _one(conn: Connection, settings: Any, receipt: Any, report: dict,
         now: datetime) -> list[str]:
    """Parse one receipt again; the ids of the events it changed or created."""
    vendor = get_vendor(receipt.vendor)
    if vendor is None:
        report["still_failing"] += 1
        return []
    inbound = Inbound(receipt.vendor, receipt.method, bytes(receipt.body),
                      headers=receipt.headers or {}, query_string=receipt.query_string or "",
                      content_type=receipt.content_type)
    try:
        events = vendor.parse(inbound, settings)
    except BadPayload as exc:
        report["still_failing"] += 1
        record_parse_error(conn, receipt.id, f"{exc.code}: {exc.message}")
        return []
    touched: set[tuple[str, str]] = set()
    owed: list[str] = []
    for event in events:
        existing = event_by_dedup_key(conn, event.dedup_key)
        values = _values(event)
        if existing is None:
            event_id = new_id("evt")
            sequence = None
            if event.message_id is not None:  # the next of its message, as ingest numbers
                sequence = next_sequence(conn, event.vendor, event.message_id,
                                         event.dedup_key)
            insert_event(conn, values | {
                "sequence": sequence,
                "id": event_id, "dedup_key": event.dedup_key, "receipt_id": receipt.id,
                "vendor": event.vendor, "received_at": receipt.received_at,
                "disposition": FANOUT, "raw": event.raw})
            owed.append(event_id)
            report["created"] += 1
        else:
            diff = {k: [_plain(getattr(existing, k)), _plain(v)] for k, v in values.items()
                    if _plain(getattr(existing, k)) != _plain(v)}
            if not diff:
                report["unchanged"] += 1
                continue
            if values["message_id"] != existing.message_id:  # it joins another message's order
                values["sequence"] = None if values["message_id"] is None else renumber(
                    conn, event.vendor, values["message_id"])
            update_event(conn, existing.id, values)
            owed.append(existing.id)
            report["changed_count"] += 1
            if len(report["changed"]) < SHOWN_CHANGES:  # a sample: memory stays bounded
                report["changed"].append({"event_id": existing.id, "changes": diff})
            if existing.message_id:
                touched.add((existing.vendor, existing.message_id))
        if event.message_id:
            touched.add((event.vendor, event.message_id))
    if receipt.state != "parsed":
        mark_parsed(conn, receipt.id)
    for vendor_name, message_id in touched:
        rebuild_status(conn, vendor_name, message_id, now)
    return owed


def _values(event: NormalizedEvent) -> dict[str, Any]:
    return {"type": event.type, "status": event.status, "message_id": event.message_id,
            "vendor_event_id": event.vendor_event_id, "occurred_at": event.occurred_at,
            "data": event.data}


def _plain(value: Any) -> Any:
    """Compare JSON as JSON and times as instants, whatever the dialect handed back."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.loads(json.dumps(value, sort_keys=True))
    return value


def rebuild_status(conn: Connection, vendor: str, message_id: str, now: datetime) -> None:
    """Replay a message's receipts through the ladder in arrival order; the overdue mark
    stays (its one event was made)."""
    rows = status_events(conn, vendor, message_id)
    overdue = overdue_at(conn, vendor, message_id)
    state: dict[str, Any] | None = None
    for row in rows:
        data = row.data or {}
        if data.get("direction") != "outbound":
            continue
        if state is None:
            state = {"status": row.status, "event_id": row.id, "conflict_status": None,
                     "conflict_event_id": None, "first_receipt_at": row.received_at,
                     "country": None, "accepted_at": None, "delivered_at": None,
                     "overdue_at": overdue}
            disposition = FANOUT
        else:
            disposition = decide(state["status"], row.status, state["permanent"],
                                 data.get("permanent"))
            if disposition == FANOUT:
                state.update(status=row.status, event_id=row.id)
            elif disposition == CONFLICT and state["conflict_status"] is None:
                state.update(conflict_status=row.status, conflict_event_id=row.id)
        state["last_receipt_at"] = row.received_at
        if disposition == FANOUT:
            state.update(reason=data.get("reason"), permanent=data.get("permanent"))
            state["country"] = state["country"] or data.get("country")
            if row.status in PENDING_STATUSES and state["accepted_at"] is None:
                state["accepted_at"] = row.occurred_at
            if row.status == DELIVERED and state["delivered_at"] is None:
                state["delivered_at"] = row.occurred_at
        if disposition != row.disposition:
            change_disposition(conn, row.id, disposition)
    replace_status(conn, vendor, message_id, None if state is None else
                   state | {"rank": STATUS_RANK[state["status"]], "updated_at": now})
