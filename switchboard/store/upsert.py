"""Insert a row, or update (or keep) the one already holding its key: SQLite and PostgreSQL
say it with the same words, built by each dialect's own insert()."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table):
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def insert_new(conn: Connection, table: Table, key: Iterable[Column],
               values: dict[str, Any]) -> bool:
    """Insert the row unless one already holds its key; whether it went in."""
    statement = _insert(conn, table).values(**values).on_conflict_do_nothing(
        index_elements=list(key)).returning(*table.primary_key.columns)
    return bool(conn.execute(statement).all())


def upsert(conn: Connection, table: Table, key: Iterable[Column], values: dict[str, Any]) -> None:
    """`key`: the columns of the unique index a conflict is on; every other given value is
    written over the stored row's."""
    statement = _insert(conn, table).values(**values)
    key = list(key)
    changed = {name: statement.excluded[name] for name in values
               if name not in {column.name for column in key}}
    conn.execute(statement.on_conflict_do_update(index_elements=key, set_=changed))
