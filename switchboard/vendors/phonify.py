"""Phonify: message objects, pushed to a URL token or polled (shared/vendors/phonify-api.txt,
CALLBACKS.md "Phonify").

Phonify documents no callbacks. A relay may POST one message object, or a list of them, to
`/webhooks/phonify/<token>` (a token of SWITCHBOARD_PHONIFY_TOKENS), and
`switchboard.poll.phonify` lists the API and feeds each new or changed message through
this same parse. The object is `{id, body, to, origin: {number, ...}, phone: {number, ...},
state: unconfirmed|sent|error, created_at}`; `created_at` is typed only "timestamp", so
ISO 8601 and Unix seconds or milliseconds are read (base.iso_or_unix_time).

The docs say sent and received messages share the object and give it no direction, so
(ours) a message is inbound when its `to` is one of the numbers we rent at Phonify
(SWITCHBOARD_PHONIFY_NUMBERS, compared in E.164), its sender then being `origin.number`.
A relay may also say so in `direction` (`inbound`, `received`, `incoming`, `mo`), and a
`state` of `received` (undocumented; relays send it) counts too.
Anything else is outbound. An inbound message becomes `message.received`, once, however its
state moves later. Dedup key: provider + message id + state (`received` for inbound).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from switchboard.events import NormalizedEvent
from switchboard.vendors.base import (
    BadPayload,
    Inbound,
    SampleRequest,
    Vendor,
    e164,
    event,
    explain,
    hashed_key,
    iso_or_unix_time,
    map_status,
    optional,
    optional_str,
    reason_map,
    require,
    storable,
)

NAME = "phonify"

STATUS_MAP = {
    "unconfirmed": "accepted",
    "sent": "sent",
    "error": "failed",
}
# Why a message failed (phonify-api.txt line 77: states unconfirmed, sent and error): the
# message object carries no error code, so an `error` says only that it failed.
REASON_MAP = reason_map({
    "error": ("unknown", None),  # 77
})
INBOUND_DIRECTIONS = {"inbound", "received", "incoming", "mo"}
INBOUND_STATES = {"received"}


def is_inbound(message: dict, to: str | None, ours: tuple[str, ...]) -> bool:
    """`to` in E.164, as `ours` is: Phonify writes it with the `+` but a relay may not."""
    if to is not None and to in ours:
        return True
    direction = (optional_str(message, "direction") or "").lower()
    state = (optional_str(message, "state") or "").lower()
    return direction in INBOUND_DIRECTIONS or state in INBOUND_STATES


def number_of(message: dict, name: str) -> str | None:
    """`origin` and `phone` are objects with a `number`; tolerate a bare number too."""
    value = optional(message, name)
    country = optional(value, "country")  # None unless value is an object
    if isinstance(value, dict):
        value = optional(value, "number")
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return e164(value, country)
    return None


def message_event(message: Any, ours: tuple[str, ...], prefix: str = "") -> NormalizedEvent:
    """One message object as one event; `ours` are our Phonify numbers in E.164."""
    message_id = storable(require(message, "id", prefix=prefix), f"{prefix}id")
    state = require(message, "state", prefix=prefix)
    created = optional(message, "created_at")
    # Typed only "timestamp" in the docs: ISO 8601, or Unix seconds or milliseconds.
    occurred_at = (iso_or_unix_time(created, f"{prefix}created_at") if created is not None
                   else None)
    phone = optional(message, "phone")  # the other party: its country is the one of `to`
    country = optional(phone, "country")  # None unless phone is an object
    to = e164(optional_str(message, "to"), country)
    common = {"message_id": message_id, "to": to, "text": optional_str(message, "body"),
              "account_id": None}
    if is_inbound(message, to, ours):
        key = hashed_key(NAME, message_id, "received")
        return event(NAME, "message.received", key, occurred_at, message,
                     direction="inbound", vendor_status=state,
                     **{"from": number_of(message, "origin")}, **common)
    status = map_status(STATUS_MAP, state)
    key = hashed_key(NAME, message_id, state.lower())
    return event(NAME, f"message.{status}", key, occurred_at, message, direction="outbound",
                 status=status, vendor_status=state, **{"from": number_of(message, "origin")},
                 **explain(REASON_MAP, status, state), **common)


class Phonify(Vendor):
    name = NAME
    uses_token = True

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        ours = settings.phonify_numbers
        body = inbound.json
        if isinstance(body, list):
            if not body:
                raise BadPayload("invalid_field", "body is an empty list of messages")
            return [message_event(message, ours, f"[{index}].")
                    for index, message in enumerate(body)]
        return [message_event(body, ours)]

    # sample() builds what `simulate` sends, not what a provider sent: make mutation leaves it
    # pragma: no mutate block
    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        type_ = type_ or "message.sent"
        state = {"message.accepted": "unconfirmed", "message.failed": "error"}.get(
            type_, type_.removeprefix("message."))
        message: dict[str, Any] = {
            "id": uuid.uuid4().hex[:10], "body": "Your order #29211 received",
            "to": "+34600000000",
            "origin": {"number": "+34911000000", "country": "ES", "carrier": None},
            "phone": {"number": "+34600000000", "country": "ES", "carrier": "Movistar"},
            "state": state, "created_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if type_ == "message.received":
            message.update({"state": "sent", "direction": "inbound", "to": "+34911000000",
                            "origin": {"number": "+34600000000", "country": "ES",
                                       "carrier": "Movistar"}})
        return SampleRequest("POST", f"/webhooks/{NAME}/{secrets[0]}",
                             json.dumps(message).encode(),
                             {"Content-Type": "application/json"})


vendor = Phonify()
