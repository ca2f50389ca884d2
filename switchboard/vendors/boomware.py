"""Boomware: unsigned JSON callbacks behind a URL token (shared/vendors/boomware-api.txt,
CALLBACKS.md "Boomware").

Proof: the `<token>` in `/webhooks/boomware/<token>`, one of SWITCHBOARD_BOOMWARE_TOKENS
(Boomware documents no signature). One URL takes three shapes, told apart by their fields:
- call status: `sipStatus`, `call*At`, `duration` or `billable` -> `call.<status lower>`;
- inbound SMS: no `requestId` but `messageId` or `from` (with `to`, `text`, `parts`)
  -> `message.received`;
- otherwise an SMS delivery receipt `{requestId, number, status, timestamp}`.
There is no event id: the dedup key hashes message id, status and timestamp. Boomware
resends an inbound SMS for 24 hours until it gets a 2xx; the resend hashes the same.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from switchboard.events import NormalizedEvent
from switchboard.vendors.base import (
    Inbound,
    SampleRequest,
    Vendor,
    e164,
    event,
    explain,
    hashed_key,
    map_status,
    optional,
    optional_str,
    reason_map,
    require,
    storable,
    unix_time,
)

NAME = "boomware"

# The DLR statuses documented under "Callbacks (webhooks)"; anything else -> unknown.
STATUS_MAP = {
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "rejected": "rejected",
}

# Why a request failed: Boomware's `errorCode` table (boomware-api.txt "Errors", the line of
# each), read from a receipt's `errorCode`, then its statuses.
REASON_MAP = reason_map({
    "1": ("unknown", False),  # 26: authentication required (our token, not the number)
    "2": ("unknown", False),  # 28: inactive account
    "4": ("rate_limited", False),  # 30: too many requests (30 a second)
    "5": ("unknown", False),  # 32: inactive token
    "6": ("insufficient_funds", False),  # 34: insufficient funds
    "10": ("unknown", None),  # 36: invalid request
    "11": ("invalid_number", True),  # 38: invalid number (not E.164 or malformed)
    "16": ("sender_not_allowed", True),  # 40: sender id not allowed for this request
    # Statuses (lines 88, 90): neither says why.
    "UNDELIVERED": ("unknown", None),
    "REJECTED": ("unknown", None),
})

# Fields only call status callbacks carry (the sample under "Callbacks (webhooks)").
CALL_FIELDS = ("sipStatus", "callCreatedAt", "callRingStartedAt", "callAnsweredAt",
               "callEndedAt", "duration", "billable")


# A call's type is its status under this prefix, in the 64-character type column.
CALL_PREFIX = "call."


def call_type(vendor_status: str) -> str:
    """`ANSWERED` -> `call.answered`; `NO ANSWER` -> `call.no_answer`."""
    words = re.findall(r"[a-z0-9]+", vendor_status.lower())
    return CALL_PREFIX + ("_".join(words) or "unknown")


class Boomware(Vendor):
    name = NAME
    uses_token = True

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        body = inbound.json
        require(body, "timestamp", (int, float, str))  # also: 400 if the body is not an object
        if "requestId" not in body and ("messageId" in body or "from" in body):
            return [self._inbound_sms(body)]
        if any(name in body for name in CALL_FIELDS):
            return [self._call(body)]
        return [self._receipt(body)]

    def _inbound_sms(self, body: dict) -> NormalizedEvent:
        message_id = storable(require(body, "messageId"), "messageId")
        sender = require(body, "from")
        occurred_at = unix_time(body["timestamp"], "timestamp")
        key = hashed_key(NAME, message_id, "received", occurred_at.isoformat())
        return event(NAME, "message.received", key, occurred_at, body,
                     message_id=message_id, direction="inbound", **{"from": e164(sender)},
                     to=e164(optional_str(body, "to")), text=optional_str(body, "text"),
                     parts=optional(body, "parts"))

    def _receipt(self, body: dict) -> NormalizedEvent:
        request_id = storable(require(body, "requestId"), "requestId")
        vendor_status = require(body, "status")
        occurred_at = unix_time(body["timestamp"], "timestamp")
        status = map_status(STATUS_MAP, vendor_status)
        key = hashed_key(NAME, request_id, vendor_status, occurred_at.isoformat())
        error_code = optional_str(body, "errorCode")
        return event(NAME, f"message.{status}", key, occurred_at, body, message_id=request_id,
                     direction="outbound", status=status, vendor_status=vendor_status,
                     to=e164(optional_str(body, "number")), error_code=error_code,
                     **explain(REASON_MAP, status, error_code, vendor_status),
                     mccmnc=optional_str(body, "mccmnc"))

    def _call(self, body: dict) -> NormalizedEvent:
        request_id = storable(require(body, "requestId"), "requestId")
        vendor_status = storable(require(body, "status"), "status", 64 - len(CALL_PREFIX))
        occurred_at = unix_time(body["timestamp"], "timestamp")
        key = hashed_key(NAME, request_id, vendor_status, occurred_at.isoformat())
        # A call's status is not a message status: it names the type and stays out of the
        # message status projection (data.status is null).
        return event(NAME, call_type(vendor_status), key, occurred_at, body,
                     message_id=request_id, direction="outbound", vendor_status=vendor_status,
                     to=e164(optional_str(body, "number")),
                     sip_status=optional(body, "sipStatus"), duration=optional(body, "duration"),
                     billable=optional(body, "billable"))

    # sample() builds what `simulate` sends, not what a provider sent: make mutation leaves it
    # pragma: no mutate block
    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        type_ = type_ or "message.delivered"
        timestamp = int(now.timestamp())
        payload: dict[str, Any]
        if type_ == "message.received":
            payload = {"from": "447700900001", "to": "447700900000",
                       "messageId": str(uuid.uuid4()), "text": "Hello world",
                       "timestamp": timestamp, "parts": 1}
        else:
            payload = {"requestId": uuid.uuid4().hex, "number": "+37200911211",
                       "mccmnc": "282002", "timestamp": timestamp}
            if type_.startswith("call."):
                payload.update({"status": type_.removeprefix("call.").upper(), "sipStatus": 200,
                                "callCreatedAt": timestamp - 36, "callAnsweredAt": timestamp - 17,
                                "callEndedAt": timestamp, "billable": True, "duration": 17})
            else:
                payload["status"] = type_.removeprefix("message.").upper()
        return SampleRequest("POST", f"/webhooks/{NAME}/{secrets[0]}",
                             json.dumps(payload).encode(),
                             {"Content-Type": "application/json"})


vendor = Boomware()
