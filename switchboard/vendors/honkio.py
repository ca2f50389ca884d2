"""HonkIO: signed JSON callbacks (shared/vendors/honkio-api.txt, CALLBACKS.md "HonkIO").

Proof: X-HonkIO-Signature = hex HMAC-SHA256 of "{X-HonkIO-Timestamp}.{raw body}", the
timestamp within SIGNATURE_TOLERANCE of now either way, X-HonkIO-Event equal to the type.
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
    optional,
    optional_str,
    reason_map,
    require,
    storable,
)

SIGNATURE = "X-HonkIO-Signature"
TIMESTAMP = "X-HonkIO-Timestamp"
EVENT = "X-HonkIO-Event"
# The dedup key is "honkio:<id>" in a 200-character column; the type column holds 64.
KEY_PREFIX = "honkio:"

STATUS_MAP = {
    "queued": "accepted",
    "accepted": "accepted",
    "sent": "sent",
    "delivered": "delivered",
    "failed": "failed",
    "undelivered": "undelivered",
    "expired": "expired",
    "rejected": "rejected",
    # HonkIO blocks sends with 451 codes (OPT_OUT_BLOCKED, NO_CONSENT, DNCL_BLOCKED).
    "blocked": "rejected",
}

# Why a send failed: HonkIO's error codes (honkio-api.txt "Error codes", the line of each),
# carried in data.error_code (or data.code), then its statuses. The verification codes
# (VERIFICATION_*, lines 73-75, 77, 81) are about the Verify API, not a message: unmapped.
REASON_MAP = reason_map({
    "UNAUTHORIZED": ("unknown", False),  # 71: our API key, not the number: a resend may pass
    "INSUFFICIENT_BALANCE": ("insufficient_funds", False),  # 72: top up and resend
    "NON_CANADIAN_NUMBER": ("invalid_number", True),  # 76: not a valid Canadian E.164 number
    "ALLOW_LIST_BLOCKED": ("blocked", True),  # 78: not on the API key's ALLOW list
    "DENY_LIST_BLOCKED": ("blocked", True),  # 79: on the API key's DENY list
    "RATE_LIMITED": ("rate_limited", False),  # 80: too many requests, slow down
    "OPT_OUT_BLOCKED": ("opted_out", True),  # 82: opted out, legally blocked
    "NO_CONSENT": ("no_consent", True),  # 83: no valid CASL consent on file
    "CONSENT_EXPIRED": ("no_consent", True),  # 84: implied consent expired (2-year limit)
    "DNCL_BLOCKED": ("blocked", True),  # 85: on the CRTC DNCL, no exemption applies
    # Statuses (CALLBACKS.md "HonkIO", status map): `blocked` is a 451 refusal (line 19).
    "blocked": ("blocked", True),
    "expired": ("expired", False),  # the validity period ran out: a resend may arrive
})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The production signer; tests and `simulate` sign through it too."""
    return hmac_hex(secret, timestamp.encode() + b"." + body)


class HonkIO(Vendor):
    name = "honkio"
    kept_headers = (EVENT,)

    def verify(self, inbound: Inbound, secrets: tuple[str, ...], settings: Any,
               now: datetime, token: str | None = None) -> None:
        signature = inbound.header(SIGNATURE)
        timestamp = inbound.header(TIMESTAMP)
        if not signature or not timestamp:
            raise Rejected("missing_signature",
                           f"{SIGNATURE} and {TIMESTAMP} headers are required")
        check_hmac(signature, timestamp.encode() + b"." + inbound.body, secrets)
        try:
            sent_at = int(timestamp.strip())
        except ValueError:
            raise Rejected("timestamp_out_of_tolerance",
                           f"{TIMESTAMP} is not Unix seconds") from None
        if abs(now.timestamp() - sent_at) > settings.signature_tolerance:
            raise Rejected("timestamp_out_of_tolerance",
                           f"{TIMESTAMP} is more than {settings.signature_tolerance}s from now")
        body = inbound.json
        body_type = body.get("type") if isinstance(body, dict) else None
        if isinstance(body_type, str) and inbound.header(EVENT) != body_type:
            raise Rejected("invalid_signature", f"{EVENT} does not match the body's type")

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        body = inbound.json
        event_id = storable(require(body, "id"), "id", 200 - len(KEY_PREFIX))
        type_ = storable(require(body, "type"), "type", 64)
        created = iso_time(require(body, "created"), "created")
        data = require(body, "data", dict)
        common = {
            "message_id": storable(optional_str(data, "message_id"), "data.message_id"),
            "from": e164(optional_str(data, "from")),
            "to": e164(optional_str(data, "to")),
            "error_code": optional_str(data, "error_code") or optional_str(data, "code"),
            "account_id": optional_str(body, "account_id"),
        }
        key = f"{KEY_PREFIX}{event_id}"
        if type_ == "message.received":
            text = optional_str(data, "body") or optional_str(data, "text")
            return [event("honkio", type_, key, created, body, event_id, direction="inbound",
                          text=text, parts=optional(data, "parts"), **common)]
        if type_.startswith("message."):
            require(data, "message_id", prefix="data.")
            vendor_status = optional_str(data, "status") or type_.removeprefix("message.")
            status = map_status(STATUS_MAP, vendor_status)
            return [event("honkio", f"message.{status}", key, created, body, event_id,
                          direction="outbound", status=status, vendor_status=vendor_status,
                          **explain(REASON_MAP, status, common["error_code"], vendor_status),
                          **common)]
        # verification.* and whatever HonkIO adds next: stored and routed under its own type.
        return [event("honkio", type_, key, created, body, event_id,
                      vendor_status=optional_str(data, "status"), **common)]

    # sample() builds what `simulate` sends, not what a provider sent: make mutation leaves it
    # pragma: no mutate block
    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        type_ = type_ or "message.delivered"
        data: dict[str, Any] = {"message_id": new_id("msg"), "to": "+16135550199"}
        if type_ == "message.received":
            data.update({"from": "+16135550199", "to": "+14165550100", "body": "Hello"})
        else:
            data["status"] = type_.removeprefix("message.")
        body = json.dumps({"id": new_id("evt"), "type": type_,
                           "created": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                           "account_id": "acc_01HXYZ4B5C6D7E8F9G0H1J2K3L",
                           "data": data}).encode()
        timestamp = str(int(now.timestamp()))
        return SampleRequest("POST", "/webhooks/honkio", body, {
            "Content-Type": "application/json",
            SIGNATURE: sign(secrets[0], timestamp, body),
            TIMESTAMP: timestamp,
            EVENT: type_,
        })


vendor = HonkIO()
