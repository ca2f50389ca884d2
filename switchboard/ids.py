"""Sortable public ids: a prefix and a ULID, so ids order by creation time."""

from ulid import ULID


def new_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"
