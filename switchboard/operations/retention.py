"""Retention: delete what is older than a cutoff, in bounded batches, never what is owed.

Order matters. First finished deliveries (succeeded, dead, cancelled) and their attempts;
then events that no longer have any delivery (so an event with a pending delivery, or a
replay finished after the cutoff, stays); then receipts, parsed or failed, that no event
points to. Each batch is its own transaction, so a long purge never holds locks for long
and an interrupted one keeps what it did. message_status rows stay: they are the current
state of each message, not history.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from switchboard.store import retention as store

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"\s*(\d+)\s*([smhdw])\s*")


def parse_duration(text: str) -> timedelta:
    """'30d', '12h', '90m', '45s', '2w' -> timedelta; anything else is a ValueError."""
    match = _DURATION.fullmatch(text or "")
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration like 30d, 12h or 90m")
    return timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])


@dataclass
class PurgeCounts:
    deliveries: int = 0
    attempts: int = 0
    events: int = 0
    receipts: int = 0

    def line(self) -> str:
        return ", ".join(f"{getattr(self, f.name)} {f.name}" for f in fields(self))


def count(engine: Engine, cutoff: datetime) -> PurgeCounts:
    """What purge() would delete now (--dry-run)."""
    with engine.connect() as conn:
        return PurgeCounts(*store.purgeable(conn, cutoff))


def purge(engine: Engine, cutoff: datetime, batch_size: int = 1000,
          progress: Callable[[PurgeCounts], None] | None = None) -> PurgeCounts:
    done = PurgeCounts()
    for step in (_deliveries_batch, _events_batch, _receipts_batch):
        while True:
            with engine.begin() as conn:
                deleted = step(conn, cutoff, batch_size, done)
            if progress is not None:
                progress(done)
            if deleted < batch_size:
                break
    return done


def _deliveries_batch(conn: Connection, cutoff: datetime, limit: int,
                      done: PurgeCounts) -> int:
    picked, attempts, deliveries = store.purge_deliveries(conn, cutoff, limit)
    done.attempts += attempts
    done.deliveries += deliveries
    return picked


def _events_batch(conn: Connection, cutoff: datetime, limit: int, done: PurgeCounts) -> int:
    picked, deleted = store.purge_events(conn, cutoff, limit)
    done.events += deleted
    return picked


def _receipts_batch(conn: Connection, cutoff: datetime, limit: int,
                    done: PurgeCounts) -> int:
    picked, deleted = store.purge_receipts(conn, cutoff, limit)
    done.receipts += deleted
    return picked
