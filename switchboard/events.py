"""The normalised event every provider's callback becomes, and the status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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

DATA_FIELDS = ("message_id", "direction", "status", "vendor_status", "from", "to", "text",
               "parts", "error_code", "account_id")


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
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{moment.microsecond // 1000:03d}Z" if moment.microsecond else "Z")
