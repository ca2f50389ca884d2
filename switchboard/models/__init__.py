"""Tables, as typed SQLAlchemy models, and the engine that reaches them."""

from switchboard.models.db import make_engine
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
    "make_engine",
]
