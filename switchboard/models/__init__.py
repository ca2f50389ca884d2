"""Tables, as typed SQLAlchemy models (the engine that reaches them is switchboard.store's)."""

from switchboard.models.tables import (
    Attempt,
    Base,
    ConsoleSession,
    Delivery,
    Event,
    MessageSequence,
    MessageStatus,
    PollState,
    Receipt,
    Subscription,
)

__all__ = [
    "Attempt",
    "Base",
    "ConsoleSession",
    "Delivery",
    "Event",
    "MessageSequence",
    "MessageStatus",
    "PollState",
    "Receipt",
    "Subscription",
]
