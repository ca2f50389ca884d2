"""Subscriptions: the functions the CLI and the admin API share to manage them."""

from __future__ import annotations

import base64
import re
import secrets as random_secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from switchboard.config import Settings
from switchboard.events import isoformat
from switchboard.ids import new_id
from switchboard.operations.common import OperationError
from switchboard.store import subscriptions as store
from switchboard.url_policy import UrlRefused, check_url

# After a rotation the old secret keeps signing beside the new one for this long, so a
# subscriber can deploy the new secret without dropping a delivery.
ROTATION_OVERLAP = timedelta(hours=24)
# What an event_types entry may be: an event type (message.delivered), or a glob over them
# with * for whole dot-separated parts (message.*, *). Event types are lower-case words
# joined by dots, so anything else would match nothing, silently.
EVENT_TYPE_PATTERN = r"^(\*|[a-z0-9_]+)(\.(\*|[a-z0-9_]+))*$"
CREATE_FIELDS = ("url", "event_types", "vendors", "description")


def new_secret() -> str:
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()


def public(row: Any) -> dict:
    """A subscription as operators see it: never its secret."""
    return {
        "id": row.id, "url": row.url, "event_types": list(row.event_types),
        "vendors": list(row.vendors) if row.vendors else None,
        "description": row.description, "active": row.active,
        "disabled_reason": row.disabled_reason,
        "failing_since": isoformat(row.failing_since),
        "created_at": isoformat(row.created_at),
        "deleted_at": isoformat(row.deleted_at),
    }


def _validate(url: Any, event_types: Any, vendors: Any, settings: Settings) -> None:
    from switchboard.vendors.registry import VENDORS

    if not isinstance(url, str):
        raise OperationError("url", "url must be a string")
    try:
        check_url(url, settings.allow_private_urls)
    except UrlRefused as exc:
        raise OperationError("url", str(exc)) from None
    if (not isinstance(event_types, list) or not event_types
            or not all(isinstance(t, str) and re.fullmatch(EVENT_TYPE_PATTERN, t)
                       for t in event_types)):
        raise OperationError("event_types", 'event_types must be a non-empty list of event '
                                'types or patterns, e.g. ["message.delivered", "call.*"]')
    if vendors is not None:
        if not isinstance(vendors, list) or not all(isinstance(v, str) for v in vendors):
            raise OperationError("vendors", "vendors must be a list of vendor names")
        unknown = sorted(set(vendors) - set(VENDORS))
        if unknown:
            raise OperationError("vendors", f"unknown vendors: {', '.join(unknown)}")


def _check_description(description: Any) -> None:
    # PostgreSQL refuses a NUL in text with an error that would be a 503, not the caller's 400.
    if not isinstance(description, str) or "\x00" in description:
        raise OperationError("description", "description must be a string without NUL")


def create(conn: Connection, settings: Settings, now: datetime, *, url: str,
           event_types: list[str], vendors: list[str] | None = None,
           description: str = "") -> tuple[dict, str]:
    """Store a new subscription; return it and its secret (shown this once)."""
    _validate(url, event_types, vendors, settings)
    _check_description(description)
    row = {"id": new_id("sub"), "url": url, "event_types": event_types,
           "vendors": vendors or None, "description": description, "active": True,
           "secret": new_secret(), "previous_secret": None, "previous_secret_until": None,
           "failing_since": None, "disabled_reason": None, "created_at": now,
           "deleted_at": None}
    store.insert_subscription(conn, row)
    return public(get_row(conn, row["id"])), row["secret"]


def create_from_json(conn: Connection, settings: Settings, now: datetime,
                     body: dict[str, Any]) -> dict:
    """POST /api/subscriptions: the subscription with its secret, shown this once."""
    unknown = sorted(set(body) - set(CREATE_FIELDS))
    if unknown:
        raise OperationError(unknown[0], f"unknown field {unknown[0]!r}; use "
                             + ", ".join(CREATE_FIELDS))
    sub, secret = create(conn, settings, now, url=body.get("url"),
                         event_types=body.get("event_types"), vendors=body.get("vendors"),
                         description=body.get("description", ""))
    return sub | {"secret": secret}


def get_row(conn: Connection, subscription_id: str, include_deleted: bool = False) -> Any:
    row = store.subscription(conn, subscription_id, include_deleted)
    if row is None:
        raise OperationError("id", f"no subscription {subscription_id!r}", status=404)
    return row


def list_all(conn: Connection, include_deleted: bool = False) -> list[dict]:
    return [public(row) for row in store.all_subscriptions(conn, include_deleted)]


def update_fields(conn: Connection, settings: Settings, subscription_id: str,
                  changes: dict[str, Any]) -> dict:
    row = get_row(conn, subscription_id)
    allowed = {"url", "event_types", "vendors", "description", "active"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise OperationError(unknown[0], f"{unknown[0]} cannot be changed")
    merged = {"url": row.url, "event_types": list(row.event_types),
              "vendors": list(row.vendors) if row.vendors else None} | {
        k: v for k, v in changes.items() if k in {"url", "event_types", "vendors"}}
    _validate(merged["url"], merged["event_types"], merged["vendors"], settings)
    if "description" in changes:
        _check_description(changes["description"])
    if "active" in changes and not isinstance(changes["active"], bool):
        raise OperationError("active", "active must be true or false")
    values = dict(changes)
    if values.get("active") is True:
        values.update(failing_since=None, disabled_reason=None)
    if values.get("active") is False:
        values.setdefault("disabled_reason", "disabled by an operator")
    if values:
        store.update_subscription(conn, subscription_id, values)
    return public(get_row(conn, subscription_id))


def set_active(conn: Connection, settings: Settings, subscription_id: str,
               active: bool) -> dict:
    """Disable or enable. Enabling does not resend what was missed: that is replay's job."""
    return update_fields(conn, settings, subscription_id, {"active": active})


def rotate_secret(conn: Connection, subscription_id: str, now: datetime) -> dict:
    """The new secret, shown this once, and until when the old one keeps signing."""
    row = get_row(conn, subscription_id)
    secret, until = new_secret(), now + ROTATION_OVERLAP
    store.update_subscription(conn, subscription_id, {
        "secret": secret, "previous_secret": row.secret, "previous_secret_until": until})
    return {"id": subscription_id, "secret": secret,
            "previous_secret_valid_until": isoformat(until)}


def delete(conn: Connection, subscription_id: str, now: datetime) -> None:
    """Soft delete: kept for the history of its deliveries, never sent to again."""
    get_row(conn, subscription_id)
    store.update_subscription(conn, subscription_id, {
        "deleted_at": now, "active": False, "disabled_reason": "deleted"})


def list_page(conn: Connection, args: Any) -> dict:
    """{"subscriptions": [...], "next_cursor"}: newest first, keyset-paged like every admin
    list (limit, cursor), deleted ones left out."""
    from switchboard.operations.common import decode_cursor, limit_param, page, reject_unknown

    reject_unknown(args, ("limit", "cursor"))
    limit, cursor = limit_param(args), decode_cursor(args)
    rows, next_cursor = page(store.subscriptions_page(conn, limit + 1, cursor), limit,
                             lambda row: (row.created_at, row.id))
    return {"subscriptions": [public(row) for row in rows], "next_cursor": next_cursor}
