"""What reaches people: notifications (the bell), each person's choice per kind, and the mail outbox the worker
sends from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.vocabulary import Delivery, MailStatus, NotificationKind, sql_in

from .base import Base, UTCDateTime, utcnow


class Notification(Base):
    """One thing a person is told (the bell lists them; mail, by their preference, says it too)."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(NotificationKind)})", name="ck_notifications_kind"),
        CheckConstraint(f"delivery IN ({sql_in(Delivery)})", name="ck_notifications_delivery"),
        Index("ix_notifications_user_unread", "user_id", "read_at", "id"),
        Index("ix_notifications_digest", "delivery", "mailed_at", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(200))  # never a patient's name: it is a mail subject too
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str] = mapped_column(String(500))  # a path of the app, e.g. /billing/invoices/NS-2026-00012
    delivery: Mapped[str] = mapped_column(String(20))  # the person's choice when it was made
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # put in the outbox (alone or in a digest)


class NotificationPreference(Base):
    """A person's choice for one kind (none stored: the kind's default)."""

    __tablename__ = "notification_preferences"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(NotificationKind)})", name="ck_notification_preferences_kind"),
        CheckConstraint(f"delivery IN ({sql_in(Delivery)})", name="ck_notification_preferences_delivery"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    delivery: Mapped[str] = mapped_column(String(20))


class MailMessage(Base):
    """A mail in the outbox: written in the action's transaction, sent by the worker after commit (at least once,
    always with the same Message-ID)."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(MailStatus)})", name="ck_mail_messages_status"),
        Index("ix_mail_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=MailStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
