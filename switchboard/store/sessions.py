"""The console's sessions: one row per signed-in browser, keyed by the hash of its cookie's
session id (switchboard.api.console.auth decides what they mean)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from switchboard.models import ConsoleSession

_sessions = ConsoleSession.__table__


def add(conn: Connection, key: str, now: datetime) -> None:
    """Record a sign-in under this key."""
    conn.execute(insert(_sessions).values(id=key, signed_in_at=now))


def remove(conn: Connection, key: str) -> None:
    """Forget one session: its cookie signs nothing in from now on."""
    conn.execute(delete(_sessions).where(_sessions.c.id == key))


def remove_older(conn: Connection, cutoff: datetime) -> None:
    """Forget every session signed in at or before cutoff."""
    conn.execute(delete(_sessions).where(_sessions.c.signed_in_at <= cutoff))


def signed_in_at(conn: Connection, key: str) -> datetime | None:
    """When the session under this key signed in; None if there is no such session."""
    return conn.execute(select(_sessions.c.signed_in_at).where(_sessions.c.id == key)).scalar()
