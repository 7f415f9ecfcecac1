"""Clinics, their people and roles, and their invoices."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.vocabulary import (
    ClaimStatus,
    InvoiceStatus,
    PaymentStatus,
    RequestStatus,
    sql_in,
)

from .base import Base, Money, UTCDateTime, utcnow


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    cancellation_mode: Mapped[str] = mapped_column(String(20))  # "approval" | "direct"
    # The process the clinic runs; empty means the standard one for its cancellation mode.
    process_id: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(20), default="en_US", server_default="en_US")  # Babel, e.g. de_CH
    # Where the clinic's systems receive events, and the Standard Webhooks signing secret (whsec_…); a rotated
    # secret still signs until `webhook_old_secret_until`.
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    webhook_secret: Mapped[str | None] = mapped_column(String(100))
    webhook_old_secret: Mapped[str | None] = mapped_column(String(100))
    webhook_old_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ISO 8601 durations the diagrams' timers read with clinic_setting('reminder_after') / ('escalate_after').
    reminder_after: Mapped[str] = mapped_column(String(40), default="P1D", server_default="P1D")
    escalate_after: Mapped[str] = mapped_column(String(40), default="P3D", server_default="P3D")


class User(Base):
    """A person who logs in. Deactivated, never deleted: the audit log points at users."""

    __tablename__ = "users"
    # Usernames are unique whatever their case: "Admin" cannot sit beside "admin".
    __table_args__ = (Index("uq_users_username_lower", func.lower(text("username")), unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    email: Mapped[str | None] = mapped_column(String(254))
    # A one-time password given by an administrator: the user must choose their own at the next login.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    grants: Mapped[list[RoleGrant]] = relationship(back_populates="user")


class RoleGrant(Base):
    """A user holds a role in a clinic; several rows give several roles (and, later, clinics).

    Installation-wide roles (the business analyst) have no clinic.
    """

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "clinic_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"), index=True)
    role: Mapped[str] = mapped_column(String(40))

    user: Mapped[User] = relationship(back_populates="grants")


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("clinic_id", "number"),
        CheckConstraint(f"status IN ({sql_in(InvoiceStatus)})", name="ck_invoices_status"),
        CheckConstraint(
            f"approval_status IS NULL OR approval_status IN ({sql_in(RequestStatus)})",
            name="ck_invoices_approval_status",
        ),
        CheckConstraint(f"payment_status IN ({sql_in(PaymentStatus)})", name="ck_invoices_payment_status"),
        CheckConstraint(f"claim_status IN ({sql_in(ClaimStatus)})", name="ck_invoices_claim_status"),
        Index("ix_invoices_clinic_date", "clinic_id", "invoice_date"),
        Index("ix_invoices_clinic_patient", "clinic_id", "patient_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    number: Mapped[str] = mapped_column(String(40))
    patient_name: Mapped[str] = mapped_column(String(200))
    patient_id: Mapped[str] = mapped_column(String(40))
    invoice_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column("amount_cents", Money)
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.OPEN)  # open | cancelled
    # Denormalised status of the latest cancellation request, kept in the same transaction as the request.
    approval_status: Mapped[str | None] = mapped_column(String(20))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancel_remarks: Mapped[str | None] = mapped_column(Text)  # what was said at Cancel Invoice
    # As the billing system last sent them (PUT /api/invoices/{number}); the demo's are generated.
    payment_status: Mapped[str] = mapped_column(String(20), default=PaymentStatus.UNPAID, server_default="unpaid")
    claim_status: Mapped[str] = mapped_column(String(20), default=ClaimStatus.NONE, server_default="none")
    advance_applied: Mapped[Decimal] = mapped_column(
        "advance_applied_cents", Money, default=Decimal("0.00"), server_default="0"
    )
    # The cancellation blockers' verdict (processes/cancellation_blockers.dmn), stored when the invoice is written
    # and when a new table is deployed, so reads never evaluate it; which process version's table gave it.
    blocked: Mapped[bool] = mapped_column(default=False, server_default=false())
    blocked_message: Mapped[str | None] = mapped_column(String(1000))
    blockers_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("process_versions.id", name="fk_invoices_blockers_version_id")
    )

    clinic: Mapped[Clinic] = relationship(lazy="joined", innerjoin=True)
