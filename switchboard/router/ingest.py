"""Ingest: one verified callback stored in one transaction, exactly once.

Receipt, events and the status projection commit together or not at all, each new event
marked as owing its fan-out (events.fanout_owed), which a worker expands into delivery rows
later (worker/expand.py): so ingest reads no subscriptions and its cost does not grow with
them. Dedup is the events table's unique dedup_key with INSERT ... ON CONFLICT DO
NOTHING, so concurrent copies of one callback race safely: one inserts, the rest find its id.

This is the hot path: its SQL runs on the driver (store/statements.py). On PostgreSQL the
receipt, event and status inserts are one statement (one more per further event of the
callback), sent with BEGIN in one round trip (psycopg pipeline mode; see RawTransaction); the
commit is another, and carries the writes that follow the last read (a moved status, a
disposition). The event's statement also wakes the workers (pg_notify, delivered at commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from switchboard.events import STATUS_RANK, NormalizedEvent
from switchboard.ids import new_id
from switchboard.router.projection import (
    FANOUT,
    Terminal,
    first_facts,
    observe_terminal,
    project,
)
from switchboard.store.db import RawTransaction
from switchboard.store.statements import EVENT_COLUMNS, IngestSql, dumps, ingest_sql
from switchboard.vendors.base import Inbound

OCCURRED_AT = EVENT_COLUMNS.index("occurred_at")


@dataclass
class IngestResult:
    status: str  # accepted | duplicate
    event_ids: list[str]
    new_event_ids: list[str]


def receipt_params(inbound: Inbound, kept_headers: tuple[str, ...], received_at,
                   state: str, error: str | None = None) -> tuple:
    """A receipts row (statements.RECEIPT_COLUMNS), received_at already as the driver
    takes it."""
    headers = {name: inbound.header(name) for name in kept_headers
               if inbound.header(name) is not None}
    return (new_id("rcv"), inbound.vendor, received_at, inbound.method, inbound.content_type,
            inbound.query_string or None, dumps(headers), inbound.body, state, error,
            inbound.request_id)


class _Pending:
    """One event of the callback: its row's parameters, built before the transaction opens
    (on SQLite it holds the database's one write lock), then its answers once sent (on
    PostgreSQL they arrive when the pipeline is read)."""

    __slots__ = ("event", "event_id", "params", "projects", "_cursor", "_combined", "went_in",
                 "status_created", "terminal")

    def __init__(self, event: NormalizedEvent, receipt_id: str, received_at, at) -> None:
        self.event = event
        self.event_id = new_id("evt")
        # EVENT_COLUMNS but the last, sequence: that is taken inside the transaction.
        self.params = (self.event_id, event.dedup_key, receipt_id, event.vendor, event.type,
                       event.vendor_event_id, event.message_id, event.status,
                       at(event.occurred_at), received_at, FANOUT, dumps(event.data),
                       dumps(event.raw), True)
        # Whether a receipt moves its message's status: an outbound one with both.
        self.projects = event.status is not None and event.message_id is not None \
            and event.data.get("direction") == "outbound"
        self._cursor = None
        self._combined = False
        self.went_in = False
        # Whether this receipt created its message's status row; None: it does not project.
        self.status_created: bool | None = None
        # The terminal status it gave its message, for the metrics once committed.
        self.terminal: Terminal | None = None

    def sequence_key(self) -> tuple:
        """vendor, message_id and dedup_key: statements.next_sequence's parameters."""
        return self.event.vendor, self.event.message_id, self.event.dedup_key

    def status_values(self, received_at) -> tuple:
        """The status row this event starts: statements.STATUS_COLUMNS but event_id."""
        event = self.event
        return (event.vendor, event.message_id, event.status, STATUS_RANK[event.status],
                received_at, *first_facts(event, self.params[OCCURRED_AT], received_at))

    def send(self, tx: RawTransaction, sql: IngestSql, received_at) -> None:
        """SQLite: the event, then its status row, which goes in only if the event did (see
        statements.insert_status), each answer read at once. An `INSERT ... RETURNING` whose
        rows are left unread stays an open statement, and SQLite's work on each further one
        grows with how many are open: the time of a callback would grow with the square of
        its events, all of it under the database's one write lock."""
        sequence = None
        if self.event.message_id is not None:
            taken = tx.execute(sql.next_sequence, self.sequence_key()).fetchone()
            sequence = taken[0] if taken else None
        self.went_in = bool(tx.execute(sql.insert_event, (*self.params, sequence)).fetchall())
        if self.projects:
            row = self.status_values(received_at)
            self.status_created = bool(tx.execute(
                sql.insert_status,
                (*row[:4], self.event_id, *row[4:], self.event_id)).fetchall())

    def send_combined(self, tx: RawTransaction, sql: IngestSql, receipt: tuple | None,
                      received_at) -> None:
        """PostgreSQL: one statement (statements._combined), with the receipt if given."""
        sequenced = self.event.message_id is not None
        params = (() if receipt is None else receipt) \
            + (self.sequence_key() if sequenced else ()) + self.params
        if self.projects:
            params += self.status_values(received_at)
        self._cursor = tx.execute(sql.combined[receipt is not None, self.projects, sequenced],
                                  params)
        self._combined = True

    def read(self) -> None:
        """PostgreSQL: one row, the event's id if it went in and the status row's rank if
        that was created (SQLite's answers were read as they were sent)."""
        if self._combined:
            event_id, rank, _notified = self._cursor.fetchone()
            self.went_in = event_id is not None
            if self.projects:
                self.status_created = rank is not None


def ingest(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
           events: list[NormalizedEvent], now: datetime) -> IngestResult:
    sql, at = ingest_sql(engine)
    received_at = at(now)
    receipt = receipt_params(inbound, kept_headers, received_at, "parsed")
    pending = [_Pending(event, receipt[0], received_at, at) for event in events]
    # On PostgreSQL the whole transaction is one pipeline: what is read waits for its answer
    # (a round trip, with whatever was queued before it); the writes after the last read go
    # out with the COMMIT, in the round trip that leaving the pipeline makes.
    with RawTransaction(engine) as tx, tx.pipeline():
        if sql.combined is not None and pending:
            # One statement per event; the first one carries the receipt.
            for index, item in enumerate(pending):
                item.send_combined(tx, sql, receipt if index == 0 else None, received_at)
        else:
            tx.execute(sql.insert_receipt, receipt)
            for item in pending:
                item.send(tx, sql, received_at)
        result = _settle(tx, sql, pending, now, at)
        # Every event already stored: the copy's receipt is not worth keeping.
        tx.end(commit=bool(result.new_event_ids))
    observe_terminal(item.terminal for item in pending)
    return result


def _settle(tx: RawTransaction, sql: IngestSql, pending: list[_Pending], now: datetime,
            at) -> IngestResult:
    event_ids: list[str] = []
    new_ids: list[str] = []
    for item in pending:
        item.read()
    for item in pending:
        event = item.event
        if not item.went_in:
            event_ids.append(tx.execute(sql.event_id_by_key, (event.dedup_key,)).fetchone()[0])
            continue
        disposition = project(tx, sql, item, now, at)
        if disposition != FANOUT:
            # Superseded and conflicting receipts are stored but owe nobody a delivery.
            tx.execute(sql.set_disposition, (disposition, item.event_id))
        event_ids.append(item.event_id)
        new_ids.append(item.event_id)
    return IngestResult("accepted" if new_ids else "duplicate", event_ids, new_ids)


def store_failed_receipt(engine: Engine, inbound: Inbound, kept_headers: tuple[str, ...],
                         error: str, now: datetime) -> str:
    """Keep a callback that proved itself but did not parse, for re-normalisation."""
    sql, at = ingest_sql(engine)
    row = receipt_params(inbound, kept_headers, at(now), "failed", error)
    with RawTransaction(engine) as tx:
        tx.execute(sql.insert_receipt, row)
    return row[0]
