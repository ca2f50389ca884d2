"""Every table Switchboard keeps. Alembic migrations are the source of the schema; these
models must stay equal to them (tests/test_migrations.py compares the two)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from switchboard.models.functions import party_sql
from switchboard.store.types import UtcDateTime


class Base(DeclarativeBase):
    pass


# receipts.state of the receipt behind an event Switchboard made itself (a receipt overdue,
# a console test event): no provider sent it, so nothing re-parses it, no chart counts it
# as a callback and the admin API shows none.
GENERATED = "generated"


class Receipt(Base):
    """A callback exactly as it arrived, kept even when it failed to parse."""

    __tablename__ = "receipts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    method: Mapped[str] = mapped_column(String(8))
    content_type: Mapped[str | None] = mapped_column(String(200))
    query_string: Mapped[str | None] = mapped_column(Text)
    # Headers the parser may need (never signatures or tokens).
    headers: Mapped[dict] = mapped_column(JSON)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # parsed | failed | generated
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    # The request id of its JSON log line, carried to every delivery attempt's line (0006).
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_receipts_state_received", "state", "received_at"),)


class Event(Base):
    """One normalised event; dedup_key is what makes a callback count once."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id", ondelete="CASCADE"))
    vendor: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    vendor_event_id: Mapped[str | None] = mapped_column(String(200))
    message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str | None] = mapped_column(String(16))
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # fanout: a new fact, sent on; superseded: late and lower rank; conflict: a second,
    # different terminal status. Only fanout events get deliveries.
    disposition: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict] = mapped_column(JSON)
    raw: Mapped[dict | list | str | None] = mapped_column(JSON)
    # True from ingest until a worker writes the event's delivery rows, then NULL; NULL on
    # late receipts, which owe nothing (0009).
    fanout_owed: Mapped[bool | None] = mapped_column(Boolean)
    # Its place among its message's events (vendor, message_id) in the order they were
    # stored, from 1; NULL without a message id. Deliveries follow it (0011).
    sequence: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        # Admin lists read newest first under one filter (0004).
        Index("ix_events_received_id", "received_at", "id"),
        Index("ix_events_vendor_received", "vendor", "received_at", "id"),
        Index("ix_events_type_received", "type", "received_at", "id"),
        Index("ix_events_status_received", "status", "received_at", "id"),
        # A message's history and the admin filter, with or without a vendor (0003, 0007);
        # the claim's look for the earlier events of a message (0011).
        Index("ix_events_message_sequence", "message_id", "vendor", "sequence"),
        Index("ix_events_receipt", "receipt_id"),  # purge deletes receipts (0002)
        # Phone search, newest first, one walk per side (0012).
        Index("ix_events_to_received", text(party_sql("to")), "received_at", "id"),
        Index("ix_events_from_received", text(party_sql("from")), "received_at", "id"),
        # The owed fan-outs only: as small as the workers' backlog (0009).
        Index("ix_events_fanout_owed", "id", postgresql_where=text("fanout_owed IS NOT NULL"),
              sqlite_where=text("fanout_owed IS NOT NULL")),
    )


class MessageStatus(Base):
    """The furthest status each message reached: a projection of its receipts."""

    __tablename__ = "message_status"

    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    conflict_status: Mapped[str | None] = mapped_column(String(16))
    conflict_event_id: Mapped[str | None] = mapped_column(String(32))
    # The current failure's reason and permanence (null unless the status is a failure), and
    # the other party's country, as the events say (0010).
    reason: Mapped[str | None] = mapped_column(String(32))
    permanent: Mapped[bool | None] = mapped_column(Boolean)
    country: Mapped[str | None] = mapped_column(String(2))
    # When its first and latest receipts reached us: the scorecard's window, the overdue clock.
    first_receipt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_receipt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The provider's time of its first accepted or sent receipt and of its delivery.
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a worker made its one message.receipt_overdue event.
    overdue_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        # Only the messages that may still go overdue, by their latest receipt (0010).
        Index("ix_message_status_overdue", "last_receipt_at",
              postgresql_where=text("rank < 100 AND overdue_at IS NULL"),
              sqlite_where=text("rank < 100 AND overdue_at IS NULL")),
        Index("ix_message_status_first_receipt", "first_receipt_at"),  # the scorecard (0010)
    )


class MessageSequence(Base):
    """The last sequence given to each message's events: ingest takes the next from here,
    in the event's transaction (0011)."""

    __tablename__ = "message_sequences"

    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)


class Subscription(Base):
    """An internal service that wants events over HTTP."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list] = mapped_column(JSON)
    vendors: Mapped[list | None] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Delivery(Base):
    """One event owed to one target (a subscription or a handler): the outbox row."""

    __tablename__ = "deliveries"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"))
    handler: Mapped[str | None] = mapped_column(String(200))
    # pending | succeeded | dead | cancelled
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    leased_by: Mapped[str | None] = mapped_column(String(64))
    replay: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_deliveries_due", "state", "next_attempt_at"),
        Index("ix_deliveries_event", "event_id"),
        Index("ix_deliveries_state_created", "state", "created_at", "id"),  # dead letters (0003)
        Index("ix_deliveries_created", "created_at", "id"),  # (0004)
        # Dead letters of one subscription (0005). Partial: an index led by subscription_id
        # over every row puts each of an event's N delivery rows on a different leaf page.
        Index("ix_deliveries_subscription_dead", "subscription_id", "created_at", "id",
              postgresql_where=text("state = 'dead'"), sqlite_where=text("state = 'dead'")),
        # An event is expanded into at most one row per target, whatever races or crashes;
        # replays are new rows by design (0009).
        Index("ux_deliveries_event_subscription", "event_id", "subscription_id", unique=True,
              postgresql_where=text("NOT replay AND subscription_id IS NOT NULL"),
              sqlite_where=text("NOT replay AND subscription_id IS NOT NULL")),
        Index("ux_deliveries_event_handler", "event_id", "handler", unique=True,
              postgresql_where=text("NOT replay AND handler IS NOT NULL"),
              sqlite_where=text("NOT replay AND handler IS NOT NULL")),
    )


class Attempt(Base):
    """One try at a delivery, kept for operators."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"),
                                             index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)


class PollState(Base):
    """What a poller has seen of one remote object, so restarts neither lose nor repeat."""

    __tablename__ = "poll_state"

    vendor: Mapped[str] = mapped_column(String(32), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsoleSession(Base):
    """A console sign-in, so that signing out (or 12 hours) ends it in every process: the
    cookie alone is signed but cannot be taken back. Keyed by a hash of the id the cookie
    holds, so reading this table signs no one in."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    signed_in_at: Mapped[datetime] = mapped_column(UtcDateTime)
