"""Canary: signed JSON callbacks (shared/vendors/canary-api.txt, CALLBACKS.md "Canary").

Proof: X-Canary-Signature = hex HMAC-SHA256 of the raw body. There is no timestamp header;
the signed body's `created` (Unix seconds) is the event's creation time and stays the same
on Canary's retries, so it may be up to CANARY_MAX_AGE old; dedup on `id` keeps replays
inside that window out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from switchboard.events import NormalizedEvent
from switchboard.ids import new_id
from switchboard.vendors.base import (
    Inbound,
    Rejected,
    SampleRequest,
    Vendor,
    check_hmac,
    e164,
    event,
    explain,
    hmac_hex,
    iso_time,
    map_status,
    optional_str,
    reason_map,
    require,
    storable,
    unix_time,
)

SIGNATURE = "X-Canary-Signature"

STATUS_MAP = {
    "queued": "accepted",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "undelivered",
}


# Why a message failed (canary-api.txt, the line of each): `message.failed` (23) says no
# more than that, so its data.error_code is read against Canary's documented error codes:
# its error object's code and its HTTP status codes.
REASON_MAP = reason_map({
    "invalid_phone_number": ("invalid_number", True),  # 75: "the phone number ... not valid"
    "400": ("unknown", None),  # 66: bad request, invalid parameters
    "401": ("unknown", False),  # 67: our API key, not the number
    "403": ("unknown", None),  # 68: insufficient permissions
    "404": ("unknown", None),  # 69: resource does not exist
    "429": ("rate_limited", False),  # 70: rate limit exceeded
    "500": ("unknown", False),  # 71: Canary's own error: a resend may pass
})

# The dedup key is "canary:<id>" in a 200-character column; the type column holds 64.
KEY_PREFIX = "canary:"


def sign(secret: str, body: bytes) -> str:
    """The production signer; tests and `simulate` sign through it too."""
    return hmac_hex(secret, body)


class Canary(Vendor):
    name = "canary"

    def verify(self, inbound: Inbound, secrets: tuple[str, ...], settings: Any,
               now: datetime, token: str | None = None) -> None:
        check_hmac(inbound.header(SIGNATURE), inbound.body, secrets)
        body = inbound.json
        created = unix_time(require(body, "created", (int, float, str)), "created")
        age = (now - created).total_seconds()
        if age > settings.canary_max_age or -age > settings.signature_tolerance:
            raise Rejected("timestamp_out_of_tolerance",
                           "created is outside the accepted window "
                           f"({settings.canary_max_age}s back, "
                           f"{settings.signature_tolerance}s ahead)")

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        body = inbound.json
        event_id = storable(require(body, "id"), "id", 200 - len(KEY_PREFIX))
        type_ = storable(require(body, "type"), "type", 64)
        created = unix_time(require(body, "created", (int, float, str)), "created")
        data = require(body, "data", dict)
        delivered_at = optional_str(data, "delivered_at")
        occurred_at = iso_time(delivered_at, "data.delivered_at") if delivered_at else created
        common = {
            "message_id": storable(optional_str(data, "message_id"), "data.message_id"),
            "from": e164(optional_str(data, "from")),
            "to": e164(optional_str(data, "to")),
            "error_code": optional_str(data, "error_code"),
            "account_id": optional_str(body, "account_id"),
        }
        key = f"{KEY_PREFIX}{event_id}"
        if type_.startswith("message.") and type_ != "message.received":
            require(data, "message_id", prefix="data.")
            vendor_status = optional_str(data, "status") or type_.removeprefix("message.")
            status = map_status(STATUS_MAP, vendor_status)
            return [event("canary", f"message.{status}", key, occurred_at, body, event_id,
                          direction="outbound", status=status, vendor_status=vendor_status,
                          # Canary's map holds error codes only: none of its statuses says why.
                          **explain(REASON_MAP, status, common["error_code"]),
                          **common)]
        direction = "inbound" if type_ == "message.received" else None
        return [event("canary", type_, key, occurred_at, body, event_id, direction=direction,
                      vendor_status=optional_str(data, "status"),
                      text=optional_str(data, "text"), **common)]

    # sample() builds what `simulate` sends, not what a provider sent: make mutation leaves it
    # pragma: no mutate block
    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        type_ = type_ or "message.delivered"
        data: dict[str, Any] = {"message_id": new_id("msg"), "to": "+15551234567"}
        if type_.startswith("message."):
            data["status"] = type_.removeprefix("message.")
        if type_ == "message.delivered":
            data["delivered_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = json.dumps({"id": new_id("evt"), "type": type_, "created": int(now.timestamp()),
                           "data": data}).encode()
        return SampleRequest("POST", "/webhooks/canary", body, {
            "Content-Type": "application/json",
            SIGNATURE: sign(secrets[0], body),
        })


vendor = Canary()
