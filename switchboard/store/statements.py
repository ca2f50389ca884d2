"""The ingest hot path's SQL, rendered once per dialect and run on the driver itself
(SQLAlchemy's execute costs more than the insert on this path: shared/PERFORMANCE.md).

Parameters are positional tuples: `?` for sqlite3, `%s` for psycopg. What SQLAlchemy's
types would do to a value is done by the caller (time_writer, json.dumps): JSON serialised by
json.dumps as SQLAlchemy's JSON type does, and on SQLite datetimes written exactly as its
DateTime type writes them, naive UTC, so every SQLAlchemy reader reads them back unchanged.
"""
# ruff: noqa: S608 -- every piece put into this SQL is a constant of this module; values
# always travel as driver parameters.

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine

RECEIPT_COLUMNS = ("id", "vendor", "received_at", "method", "content_type", "query_string",
                   "headers", "body", "state", "error", "request_id")
EVENT_COLUMNS = ("id", "dedup_key", "receipt_id", "vendor", "type", "vendor_event_id",
                 "message_id", "status", "occurred_at", "received_at", "disposition", "data",
                 "raw", "fanout_owed", "sequence")
STATUS_COLUMNS = ("vendor", "message_id", "status", "rank", "event_id", "updated_at",
                  # What the scorecard and the overdue check read (router/projection.py).
                  "reason", "permanent", "country", "first_receipt_at", "last_receipt_at",
                  "accepted_at", "delivered_at")
JSON_COLUMNS = frozenset({"headers", "data", "raw"})
# Workers LISTEN here: a new owed fan-out or a delivery due again wakes them.
NOTIFY_CHANNEL = "switchboard_deliveries"


@dataclass(frozen=True)
class IngestSql:
    insert_receipt: str
    insert_event: str  # RETURNING id: a row back means it went in
    event_id_by_key: str
    # Used where `combined` is None (SQLite): inserts only if the given event went in just
    # before (its id exists), so it is sent without reading the event insert's answer first;
    # RETURNING rank: the row is new.
    insert_status: str
    # The next sequence of a message's events (vendor, message_id, then the event's
    # dedup_key): RETURNING it, or no row when the event is already stored (a duplicate takes
    # no number). The upsert locks the message's counter row until commit, so concurrent
    # receipts of one message are numbered in the order they commit.
    next_sequence: str
    # PostgreSQL only (None on SQLite, which has no INSERT in WITH): the receipt (for the
    # first event), its sequence (when it has a message id), the event and its status row in
    # one statement; see _combined(). Keyed by (with receipt, projects, sequenced).
    combined: dict[tuple[bool, bool, bool], str] | None
    lock_status: str
    advance_status: str
    touch_status: str  # a late receipt of a message still waiting: its overdue clock restarts
    record_conflict: str
    set_disposition: str  # a late receipt: stored, owing no fan-out


def _insert(table: str, columns: tuple[str, ...], mark: str, postgresql: bool,
            **given: str) -> str:
    """`given`: a column's SQL where it is not a parameter."""
    values = ", ".join(given[c] if c in given else
                       f"{mark}::json" if postgresql and c in JSON_COLUMNS else mark
                       for c in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values})"


def _next_sequence(mark: str, unless_stored: bool = True) -> str:
    """Take a message's next number (vendor, message_id; then, `unless_stored`, the event's
    dedup_key: no number when that event is already stored)."""
    # SQLite reads an upsert's SELECT only with a WHERE (else ON could be a join's).
    guard = f" WHERE NOT EXISTS (SELECT 1 FROM events WHERE dedup_key = {mark})" \
        if unless_stored else " WHERE true"
    return ("INSERT INTO message_sequences (vendor, message_id, sequence) "
            f"SELECT {mark}, {mark}, 1{guard} "
            "ON CONFLICT (vendor, message_id) DO UPDATE "
            "SET sequence = message_sequences.sequence + 1 RETURNING sequence")


def next_sequence(conn: Connection, vendor: str, message_id: str, dedup_key: str) -> int | None:
    """Take the next number of a message's events in the caller's transaction (None when the
    event is already stored), as ingest does: for renormalize's new events."""
    return conn.exec_driver_sql(sql_for(conn.dialect.name).next_sequence,
                                (vendor, message_id, dedup_key)).scalar()


def renumber(conn: Connection, vendor: str, message_id: str) -> int:
    """The next number of a message's events for an event already stored that renormalize
    moves to this message: it goes after every event the message has."""
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    return conn.exec_driver_sql(_next_sequence(mark, unless_stored=False),
                                (vendor, message_id)).scalar_one()


@cache
def sql_for(dialect_name: str) -> IngestSql:
    pg = dialect_name == "postgresql"
    mark = "%s" if pg else "?"
    status_values = ", ".join([mark] * len(STATUS_COLUMNS))
    status_columns = ", ".join(STATUS_COLUMNS)
    this_message = f"WHERE vendor = {mark} AND message_id = {mark}"
    return IngestSql(
        insert_receipt=_insert("receipts", RECEIPT_COLUMNS, mark, pg),
        insert_event=_insert("events", EVENT_COLUMNS, mark, pg)
        + " ON CONFLICT (dedup_key) DO NOTHING RETURNING id",
        event_id_by_key=f"SELECT id FROM events WHERE dedup_key = {mark}",
        insert_status=f"INSERT INTO message_status ({status_columns}) "
        f"SELECT {status_values} WHERE EXISTS (SELECT 1 FROM events WHERE id = {mark}) "
        "ON CONFLICT (vendor, message_id) DO NOTHING RETURNING rank",
        next_sequence=_next_sequence(mark),
        combined={(receipt, projects, sequenced): _combined(receipt, projects, sequenced)
                  for receipt in (True, False) for projects in (True, False)
                  for sequenced in (True, False)} if pg else None,
        # FOR UPDATE serialises receipts of one message on PostgreSQL; SQLite has no row
        # locks but holds the database write lock from the receipt insert on.
        lock_status="SELECT status, rank, conflict_status, permanent, accepted_at "
        "FROM message_status " + this_message + (" FOR UPDATE" if pg else ""),
        advance_status=f"UPDATE message_status SET status = {mark}, rank = {mark}, "
        f"event_id = {mark}, updated_at = {mark}, reason = {mark}, permanent = {mark}, "
        f"country = COALESCE(country, {mark}), last_receipt_at = {mark}, "
        f"accepted_at = COALESCE(accepted_at, {mark}), "
        f"delivered_at = COALESCE(delivered_at, {mark}) " + this_message,
        touch_status=f"UPDATE message_status SET last_receipt_at = {mark} " + this_message,
        record_conflict=f"UPDATE message_status SET conflict_status = {mark}, "
        f"conflict_event_id = {mark}, updated_at = {mark} " + this_message,
        set_disposition=f"UPDATE events SET disposition = {mark}, fanout_owed = NULL "
        f"WHERE id = {mark}",
    )


def _combined(with_receipt: bool, projects: bool, sequenced: bool) -> str:
    """One PostgreSQL statement for the receipt (when `with_receipt`), the event's sequence
    (when it is `sequenced`: it has a message id), the event, and (when it `projects`) the
    message's first status row, which goes in only if the event did.

    Parameters: the receipt's (RECEIPT_COLUMNS), then vendor, message_id and dedup_key for
    the sequence, the event's (EVENT_COLUMNS but sequence), then the status row's
    STATUS_COLUMNS but event_id (the event's own, from `e`). Answers one row: the event's
    id if it went in (else NULL: a duplicate), the status row's rank if that was created, and
    the void of pg_notify, called only when the event went in: delivered at commit (never for
    a rolled-back duplicate), it wakes the workers to expand the event's fan-out, and
    notifications of one transaction fold into one.

    A statement each cost psycopg ~0.1 ms of client CPU a callback in pipeline mode; one is
    enough. Every sub-statement runs whether or not the query reads it, and the foreign key
    from the event to its receipt is checked at the end of the statement, when both exist.
    """
    parts = []
    if with_receipt:
        parts.append(f"r AS ({_insert('receipts', RECEIPT_COLUMNS, '%s', True)})")
    if sequenced:
        parts.append(f"q AS ({_next_sequence('%s')})")
    sequence = "(SELECT sequence FROM q)" if sequenced else "NULL"
    parts.append(f"e AS ({_insert('events', EVENT_COLUMNS, '%s', True, sequence=sequence)} "
                 "ON CONFLICT (dedup_key) DO NOTHING RETURNING id)")
    rank = "NULL::integer"
    if projects:
        values = ", ".join("e.id" if c == "event_id" else "%s" for c in STATUS_COLUMNS)
        parts.append(f"s AS (INSERT INTO message_status ({', '.join(STATUS_COLUMNS)}) "
                     f"SELECT {values} FROM e "
                     "ON CONFLICT (vendor, message_id) DO NOTHING RETURNING rank)")
        rank = "(SELECT rank FROM s)"
    notify = f"(SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM e)"
    return f"WITH {', '.join(parts)} SELECT (SELECT id FROM e), {rank}, {notify}"


# JSON as SQLAlchemy's JSON type stores it: json.dumps, default separators, None as null.
dumps = json.dumps


def sqlite_time(moment: datetime | None) -> str | None:
    """A UTC datetime as SQLAlchemy's SQLite DateTime stores it (UtcDateTimeType)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def ingest_sql(engine: Engine) -> tuple[IngestSql, Callable[[datetime | None], Any]]:
    """The hot path's statements for this engine's database, and how they take a time."""
    name = engine.dialect.name
    return sql_for(name), time_writer(name)


def read_time(value: datetime | str | None) -> datetime | None:
    """A time column as the driver hands it back: text on SQLite (sqlite_time's form)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def time_writer(dialect_name: str):
    """How a datetime parameter is passed: as is to psycopg, as text to SQLite."""
    if dialect_name == "postgresql":
        return _aware
    return sqlite_time


def json_time_writer(dialect_name: str):
    """How a datetime travels inside a JSON parameter: ISO 8601 with its offset, which
    PostgreSQL casts to timestamptz; on SQLite as time_writer writes it."""
    if dialect_name == "postgresql":
        return _aware_iso
    return sqlite_time


def _aware_iso(moment: datetime | None) -> str | None:
    aware = _aware(moment)
    return None if aware is None else aware.isoformat()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError("naive datetime given where UTC is required")
    return moment
