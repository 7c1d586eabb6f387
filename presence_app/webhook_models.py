"""Tables of webhooks: endpoints, the outbox of events, messages, and the delivery log."""
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db

EVENT_TYPES = ("agent.presence.changed", "agent.status.overrun", "agent.assigned", "agent.released")
SERIAL = BigInteger().with_variant(Integer, "sqlite")


class WebhookEndpoint(db.Model):
    """Where an org's webhook messages go; never deleted, only marked, so that the outbox never races a delete."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[str] = mapped_column(String(200))  # event types, space-separated
    description: Mapped[str] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(100))
    # After a rotation, the secret before it signs too, until previous_until.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_until: Mapped[datetime | None] = mapped_column(DateTime)
    enabled: Mapped[bool] = mapped_column(Boolean)
    deleted: Mapped[bool] = mapped_column(Boolean, server_default=false())
    disabled_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The first failure since the last success: five days of failures disable the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime)
    # The delivery lease: one delivery in flight per endpoint, whichever process holds it.
    leased_until: Mapped[datetime | None] = mapped_column(DateTime)
    lease: Mapped[str | None] = mapped_column(String(32))  # who holds it: only the holder renews or ends it

    __table_args__ = (Index("ix_webhook_endpoints_org", "org", postgresql_where=text("enabled"),
                            sqlite_where=text("enabled")),)


class WebhookEvent(db.Model):
    """The outbox: an event for one endpoint, written in the transaction of the change; gone once in a message."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)  # JSON
    at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_webhook_events_endpoint", "endpoint_id", "id"),)


class WebhookMessage(db.Model):
    """One message of 1-100 events: its id is the webhook-id of every attempt; its body never changes."""

    __tablename__ = "webhook_messages"
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)  # an endpoint's messages go in this order
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    events: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # pending, delivered, failed
    retries: Mapped[int] = mapped_column(Integer)  # failed attempts in the current round of the schedule
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (Index("ix_webhook_messages_pending", "endpoint_id", "id",
                            postgresql_where=text("state = 'pending'"), sqlite_where=text("state = 'pending'")),)


class WebhookAttempt(db.Model):
    """The delivery log: one row per attempt of a message."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(SERIAL, primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(40))
    events: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)
