"""The ingest hot path's statements, built once per dialect (building them per request costs
more than running them: shared/PERFORMANCE.md)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import Insert, Select, Update, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from switchboard.models import Event, MessageStatus, Receipt

_receipts = Receipt.__table__
_events = Event.__table__
_status = MessageStatus.__table__


@dataclass(frozen=True)
class IngestStatements:
    insert_receipt: Insert
    insert_event: Insert
    event_id_by_key: Select
    insert_status: Insert
    lock_status: Select
    advance_status: Update
    record_conflict: Update
    set_disposition: Update


@cache
def statements_for(dialect_name: str) -> IngestStatements:
    dialect_insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    this_message = (_status.c.vendor == bindparam("w_vendor"),
                    _status.c.message_id == bindparam("w_message_id"))
    return IngestStatements(
        insert_receipt=_receipts.insert(),
        # RETURNING says whether the row went in: rowcount is -1 under psycopg 3 here.
        insert_event=dialect_insert(_events).on_conflict_do_nothing(
            index_elements=[_events.c.dedup_key]).returning(_events.c.id),
        event_id_by_key=select(_events.c.id).where(_events.c.dedup_key == bindparam("key")),
        insert_status=dialect_insert(_status).on_conflict_do_nothing(
            index_elements=[_status.c.vendor, _status.c.message_id]).returning(_status.c.rank),
        # FOR UPDATE serialises receipts of one message on PostgreSQL; SQLite has no row
        # locks but holds the database write lock from the receipt insert on.
        lock_status=select(_status.c.status, _status.c.rank, _status.c.conflict_status)
        .where(*this_message).with_for_update(),
        advance_status=update(_status).where(*this_message).values(
            status=bindparam("status"), rank=bindparam("rank"),
            event_id=bindparam("event_id"), updated_at=bindparam("updated_at")),
        record_conflict=update(_status).where(*this_message).values(
            conflict_status=bindparam("conflict_status"),
            conflict_event_id=bindparam("conflict_event_id"),
            updated_at=bindparam("updated_at")),
        set_disposition=update(_events).where(_events.c.id == bindparam("w_id")).values(
            disposition=bindparam("disposition")),
    )
