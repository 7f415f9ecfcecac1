"""What goes out to the clinic's systems: events written with the change they describe (a transactional
outbox), each clinic's feed position counter, and the webhook deliveries the worker makes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.vocabulary import DeliveryStatus, sql_in

from .base import Base, UTCDateTime, utcnow
from .clinics import Invoice


class Event(Base):
    """One change of a cancellation as a CloudEvent (its JSON kept exactly as sent). `position` numbers a
    clinic's events in commit order: the pull feed's cursor."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("clinic_id", "position"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # the CloudEvent id
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(100))
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[str] = mapped_column(Text)  # application/cloudevents+json


class EventFeed(Base):
    """A clinic's last event position. Taking the next one locks this row until the transaction ends, so
    positions are handed out in commit order and a reader never sees position 7 before position 6 commits."""

    __tablename__ = "event_feeds"

    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), primary_key=True)
    last_position: Mapped[int] = mapped_column(BigInteger, default=0)


OPEN_DELIVERIES = "status IN ('pending', 'failed')"


class WebhookDelivery(Base):
    """Sending one event to the clinic's webhook: retried with backoff, in order per invoice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(DeliveryStatus)})", name="ck_webhook_deliveries_status"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_invoice", "invoice_id", "id"),
        # The deliveries that hold back their invoice's later ones: the worker's "is an earlier one still open?"
        Index(
            "ix_webhook_deliveries_open",
            "invoice_id",
            "id",
            postgresql_where=text(OPEN_DELIVERIES),
            sqlite_where=text(OPEN_DELIVERIES),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)  # 24 hours after the first (or a re-) delivery
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_response: Mapped[str | None] = mapped_column(String(500))  # "HTTP 500" or the error
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)
    invoice: Mapped[Invoice] = relationship(lazy="joined", innerjoin=True)
