"""The normalised event every provider's callback becomes, and the status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Rank order from DESIGN.md: a message's status only ever moves up this ladder.
STATUS_RANK: dict[str, int] = {
    "unknown": 0,
    "accepted": 10,
    "sent": 20,
    "delivered": 100,
    "undelivered": 100,
    "expired": 100,
    "rejected": 100,
    "failed": 100,
    "read": 110,
}
TERMINAL_RANK = 100

FAILURE_STATUSES = frozenset({"undelivered", "expired", "rejected", "failed"})

# Why a message failed or was refused (data.reason, DESIGN.md). Each provider maps its own
# codes and statuses into these, beside its status map; what it does not document is unknown.
REASONS: dict[str, str] = {
    "opted_out": "the recipient opted out (STOP, or the provider's opt-out list)",
    "no_consent": "no valid consent on file for this recipient (CASL, TCPA...)",
    "blocked": "a do-not-call list, the account's deny or allow list, or carrier filtering",
    "invalid_number": "the number does not exist or cannot receive SMS",
    "unreachable": "the handset is off, out of coverage or absent: it may come back",
    "insufficient_funds": "the account's balance was too low to send",
    "sender_not_allowed": "the sender id or number may not send this message",
    "rate_limited": "sent too fast for the provider or the carrier",
    "expired": "not delivered within its validity period",
    "carrier_rejected": "the carrier refused it without a more precise reason",
    "unknown": "a failure whose code the provider does not document, or gave none",
}
# The events that carry a reason: failures and opt-outs; every other event's is null.
OPTED_OUT_TYPE = "message.opted_out"

DATA_FIELDS = ("message_id", "direction", "status", "vendor_status", "from", "to", "country",
               "text", "parts", "error_code", "reason", "permanent", "account_id")


@dataclass
class NormalizedEvent:
    """What a vendor module returns; ingest gives it an id and stores it."""

    type: str
    vendor: str
    dedup_key: str
    occurred_at: datetime | None
    data: dict[str, Any]
    raw: Any
    vendor_event_id: str | None = None

    def __post_init__(self) -> None:
        status = self.data.get("status")
        if status is not None and status not in STATUS_RANK:
            raise ValueError(f"status {status!r} is not in the vocabulary")
        reason = self.data.get("reason")
        if reason is not None and reason not in REASONS:
            raise ValueError(f"reason {reason!r} is not in the vocabulary")
        # Subscribers read the documented fields in the documented order; extras follow.
        self.data = {name: self.data.get(name) for name in DATA_FIELDS} | {
            k: v for k, v in self.data.items() if k not in DATA_FIELDS}

    @property
    def message_id(self) -> str | None:
        return self.data.get("message_id")

    @property
    def status(self) -> str | None:
        return self.data.get("status")


def isoformat(moment: datetime | None) -> str | None:
    """The one way Switchboard writes a time: UTC, `Z`, milliseconds only when there are
    any, and the year always four digits as RFC 3339 wants (strftime drops the zeros
    below the year 1000, which a caller's window can reach)."""
    if moment is None:
        return None
    spec = "milliseconds" if moment.microsecond else "seconds"
    if moment.tzinfo is not None:  # a naive time is UTC already (as stored); never local
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
