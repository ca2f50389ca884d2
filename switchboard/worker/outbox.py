"""Who an event is owed to: one delivery row per event and matching target (an HTTP
subscription or an in-process handler). The worker's expansion of an owed fan-out and an
operator's replay both decide it here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from switchboard.handlers.registry import matches, matching
from switchboard.ids import new_id
from switchboard.store.fanout import active_subscriptions, insert_deliveries
from switchboard.store.wakeup import wake_workers


@dataclass(frozen=True)
class Routed:
    event_id: str
    type: str
    vendor: str
    received_at: datetime | None = None  # needed for a fan-out, not for a replay


def delivery_row(event_id: str, now: datetime, *, subscription_id: str | None = None,
                 handler: str | None = None, replay: bool = False) -> dict:
    return {"id": new_id("dlv"), "event_id": event_id, "subscription_id": subscription_id,
            "handler": handler, "state": "pending", "attempts": 0, "next_attempt_at": now,
            "lease_until": None, "leased_by": None, "replay": replay, "created_at": now,
            "finished_at": None, "last_error": None}


def plan(conn: Connection, events: Iterable[Routed], now: datetime, *,
         subscription_id: str | None = None, include_handlers: bool = True,
         replay: bool = False) -> list[dict]:
    """The delivery rows these events are owed (not yet written): to every active
    subscription and registered handler that matches. A fan-out (not a replay) skips the
    subscriptions created after the event was received: they did not exist to want it."""
    events = list(events)
    if not events:
        return []
    subs = active_subscriptions(conn)
    if subscription_id is not None:
        subs = [s for s in subs if s.id == subscription_id]
    rows = []
    for event in events:
        for sub in subs:
            if not replay and sub.created_at > event.received_at:
                continue
            if matches(sub.event_types, sub.vendors, event.type, event.vendor):
                rows.append(delivery_row(event.event_id, now, subscription_id=sub.id,
                                         replay=replay))
        if include_handlers:
            rows.extend(delivery_row(event.event_id, now, handler=h.name, replay=replay)
                        for h in matching(event.type, event.vendor))
    return rows


def write(conn: Connection, rows: list[dict]) -> None:
    if not rows:
        return
    insert_deliveries(conn, rows)
    wake_workers(conn)
