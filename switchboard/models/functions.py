"""An event's party (`to` or `from`) as the phone search's indexes hold it: part of the
schema (tables.py, migration 0012) and of the search that must write it the same way."""

from __future__ import annotations


def party_sql(name: str) -> str:
    """An event's data.<name> (`to` or `from`) as text, as ix_events_<name>_received (0012)
    indexes it; a query must write it exactly so for the index to serve it.

    PostgreSQL's ->> on a json value parses the whole document and fails on an escaped NUL
    anywhere in it ("\\u0000 cannot be converted to text"): an inbound message's text may
    hold one, and the index would then refuse the event's insert. Such an event is left out
    of the index (NULL) rather than lost; CASE evaluates ->> only when there is no NUL. The line
    breaks are where PostgreSQL prints them back, so Alembic's comparison of the model with
    the migrated index sees one expression; replace() and CAST read the same on SQLite."""
    return ("(\nCASE\nWHEN replace(CAST(data AS TEXT), '\\u0000', '') <> CAST(data AS TEXT) "
            f"THEN NULL\nELSE data ->> '{name}'\nEND)")
