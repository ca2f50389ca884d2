"""Transmit SMS: unsigned GET (or POST form) callbacks behind a URL token
(shared/vendors/transmitsms-api.txt, CALLBACKS.md "Transmit SMS").

Proof: the `<token>` in `/webhooks/transmitsms/<token>`, one of SWITCHBOARD_TRANSMITSMS_TOKENS.
Fields arrive in the query string (GET, what the provider sends) or a urlencoded form (POST).
Two shapes, told apart by `response_id`:
- a DLR `{message_id, mobile, datetime, status, user_id}` -> `message.<status>`; bounces
  keep their nature (`temporary`/`permanent`) in `error_code`; the dedup key hashes
  message id, status and datetime (DLRs have no id of their own);
- a reply `{message_id, mobile, longcode, datetime_entry, response, response_id,
  is_optout}` -> `message.received` with `in_reply_to` = the original `message_id`;
  `is_optout=yes` adds a `message.opted_out` from the same request. `response_id` is the
  provider's id: `transmitsms:<response_id>` and `transmitsms:<response_id>:optout`.
Times are UTC `YYYY-MM-DD HH:MM:SS`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

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
    map_status,
    opted_out,
    optional_str,
    reason_map,
    require,
    storable,
)

NAME = "transmitsms"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

STATUS_MAP = {
    "pending": "sent",
    "delivered": "delivered",
    "soft-bounce": "undelivered",
    "hard-bounce": "undelivered",
}
# What a bounce means for retrying the number: kept in data.error_code.
BOUNCE_NATURE = {"soft-bounce": "temporary", "hard-bounce": "permanent"}
# Why a DLR failed (CALLBACKS.md "Transmit SMS", the line of each): a soft bounce is the
# handset off or out of range and may be delivered later; a hard bounce is a number that
# cannot receive. An opt-out reply (`is_optout=yes`, line 62) is opted_out, permanent.
REASON_MAP = reason_map({
    "soft-bounce": ("unreachable", False),  # 58
    "hard-bounce": ("invalid_number", True),  # 59
})


def utc_time(value: str, field: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise BadPayload("invalid_field",
                         f"field {field!r} is not a UTC time 'YYYY-MM-DD HH:MM:SS'",
                         field) from None


class TransmitSMS(Vendor):
    name = NAME
    uses_token = True
    methods = ("GET", "POST")

    def parse(self, inbound: Inbound, settings: Any) -> list[NormalizedEvent]:
        fields = inbound.form
        if "response_id" in fields or "response" in fields:
            return self._reply(fields)
        return [self._receipt(fields)]

    def _receipt(self, fields: dict[str, str]) -> NormalizedEvent:
        message_id = storable(require(fields, "message_id"), "message_id")
        vendor_status = require(fields, "status")
        occurred_at = utc_time(require(fields, "datetime"), "datetime")
        status = map_status(STATUS_MAP, vendor_status)
        key = hashed_key(NAME, message_id, vendor_status, occurred_at.isoformat())
        return event(NAME, f"message.{status}", key, occurred_at, fields, message_id=message_id,
                     direction="outbound", status=status, vendor_status=vendor_status,
                     to=e164(optional_str(fields, "mobile")),
                     error_code=BOUNCE_NATURE.get(vendor_status.lower()),
                     **explain(REASON_MAP, status, vendor_status),
                     account_id=optional_str(fields, "user_id"))

    def _reply(self, fields: dict[str, str]) -> list[NormalizedEvent]:
        # Room for the key's "transmitsms:" and ":optout" in the 200-character column.
        response_id = storable(require(fields, "response_id"), "response_id", 181)
        sender = require(fields, "mobile")
        occurred_at = utc_time(require(fields, "datetime_entry"), "datetime_entry")
        data = {
            "message_id": response_id, "direction": "inbound", "from": e164(sender),
            "to": e164(optional_str(fields, "longcode")), "text": fields.get("response", ""),
            "account_id": optional_str(fields, "user_id"),
            "in_reply_to": storable(optional_str(fields, "message_id"), "message_id"),
        }
        key = f"{NAME}:{response_id}"
        events = [event(NAME, "message.received", key, occurred_at, fields, response_id,
                        **data)]
        if fields.get("is_optout", "").strip().lower() == "yes":
            events.append(event(NAME, "message.opted_out", f"{key}:optout", occurred_at,
                                fields, response_id, **data, **opted_out()))
        return events

    # sample() builds what `simulate` sends, not what a provider sent: make mutation leaves it
    # pragma: no mutate block
    def sample(self, type_: str | None, secrets: tuple[str, ...], now: datetime) -> SampleRequest:
        type_ = type_ or "message.delivered"
        stamp = now.astimezone(UTC).strftime(TIME_FORMAT)
        message_id = str(uuid.uuid4().int % 10**9)
        if type_ in ("message.received", "message.opted_out"):
            optout = type_ == "message.opted_out"
            fields = {"message_id": message_id, "mobile": "61400000000",
                      "longcode": "61400111222", "datetime_entry": stamp,
                      "response": "STOP" if optout else "Thanks, see you then",
                      "response_id": str(uuid.uuid4().int % 10**9),
                      "is_optout": "yes" if optout else "no", "user_id": "4321"}
        else:
            status = {"sent": "pending", "undelivered": "hard-bounce"}.get(
                type_.removeprefix("message."), type_.removeprefix("message."))
            fields = {"message_id": message_id, "mobile": "61400000000", "datetime": stamp,
                      "status": status, "user_id": "4321"}
        return SampleRequest("GET", f"/webhooks/{NAME}/{secrets[0]}",
                             query_string=urlencode(fields))


vendor = TransmitSMS()
