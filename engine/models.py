"""SQLAlchemy 2 typed models: clinics, people, invoices, requests, processes and the audit log."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .vocabulary import (
    ACTIVE_INSTANCE_STATUSES,
    DeploymentOutcome,
    InstanceStatus,
    InvoiceStatus,
    RequestStatus,
    Screen,
    UserTaskState,
    sql_in,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every database, returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are stored in UTC and must carry a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Money(TypeDecorator):
    """An exact Decimal amount with two places, stored as integer minor units (never a float)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        cents = Decimal(value) * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value, dialect):
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    pass


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    cancellation_mode: Mapped[str] = mapped_column(String(20))  # "approval" | "direct"
    # The process the clinic runs; empty means the standard one for its cancellation mode.
    process_id: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class User(Base):
    """A person who logs in. Deactivated, never deleted: the audit log points at users."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

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

    clinic: Mapped[Clinic] = relationship(lazy="joined", innerjoin=True)


class ProcessVersion(Base):
    """One deployed version of a process: its source files and serialized spec, stored once."""

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("process_id", "content_hash"),
        UniqueConstraint("process_id", "version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_files: Mapped[str] = mapped_column(Text)  # JSON {filename: xml}
    spec_json: Mapped[str] = mapped_column(Text)  # JSON {"spec": ..., "subprocess_specs": ...}
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by: Mapped[str] = mapped_column(String(80), default="system")

    @property
    def files(self) -> dict[str, str]:
        """The version's source files: file name -> XML text (its BPMN file and the DMN files it uses)."""
        return json.loads(self.source_files)

    @property
    def bpmn_xml(self) -> str:
        """The BPMN file of the version (the diagram to draw), whatever order the files were stored in."""
        return next(text for name, text in self.files.items() if name.lower().endswith(".bpmn"))


class ProcessInstance(Base):
    """A running or finished cancellation lifecycle of one invoice (its business key)."""

    __tablename__ = "process_instances"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(InstanceStatus)})", name="ck_process_instances_status"),
        # At most one active lifecycle per invoice: duplicate submissions cannot both start one.
        Index(
            "uq_active_instance_per_invoice",
            "invoice_id",
            unique=True,
            sqlite_where=text(f"status IN ({sql_in(ACTIVE_INSTANCE_STATUSES)})"),
            postgresql_where=text(f"status IN ({sql_in(ACTIVE_INSTANCE_STATUSES)})"),
        ),
        Index("ix_instances_clinic_status", "clinic_id", "status", "waiting_since"),
        Index(
            "ix_instances_clinic_status_order",
            "clinic_id",
            "status",
            "waiting_since",
            text("started_at DESC"),
            text("id DESC"),
        ),
        Index("ix_instances_clinic_waiting", "clinic_id", "waiting_since"),
        Index("ix_instances_clinic_element", "clinic_id", "waiting_element", "waiting_since"),
        Index("ix_instances_clinic_started", "clinic_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"), index=True)
    business_key: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(20), default=InstanceStatus.RUNNING)
    state_json: Mapped[str] = mapped_column(Text)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the instance waits for, kept with the task rows so monitoring lists never load workflows.
    waiting_element: Mapped[str | None] = mapped_column(String(100))
    waiting_task: Mapped[str | None] = mapped_column(String(200))
    waiting_roles: Mapped[str | None] = mapped_column(String(200))
    waiting_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_element: Mapped[str | None] = mapped_column(String(100))
    incident_message: Mapped[str | None] = mapped_column(Text)
    incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": revision}

    version: Mapped[ProcessVersion] = relationship(lazy="joined")


class UserTask(Base):
    """A user task of an instance, mirrored so queues and lists are SQL (workflows are never loaded)."""

    __tablename__ = "user_tasks"
    __table_args__ = (
        CheckConstraint(f"state IN ({sql_in(UserTaskState)})", name="ck_user_tasks_state"),
        CheckConstraint(f"screen IN ({sql_in(Screen)})", name="ck_user_tasks_screen"),
        Index("ix_user_tasks_clinic_state", "clinic_id", "state", "screen"),
        Index("ix_user_tasks_completed_by", "completed_by_id", "instance_id"),
        UniqueConstraint("instance_id", "task_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))  # the SpiffWorkflow task uuid
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    lane: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[str] = mapped_column(String(200), default="")  # comma separated role ids
    screen: Mapped[str] = mapped_column(String(40), default=Screen.INVOICE)
    state: Mapped[str] = mapped_column(String(20), default=UserTaskState.READY)  # ready | completed | cancelled
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    form_data: Mapped[str | None] = mapped_column(Text)  # JSON of the values entered

    @property
    def values(self) -> dict:
        """The values the person entered when completing the task."""
        return json.loads(self.form_data) if self.form_data else {}


class CancellationRequest(Base):
    """An invoice cancellation request of an approval clinic and the decision on it."""

    __tablename__ = "cancellation_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(RequestStatus)})", name="ck_cancellation_requests_status"),
        Index("ix_requests_clinic_status_time", "clinic_id", "status", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), unique=True)
    reason: Mapped[str] = mapped_column(String(40))
    remarks: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=RequestStatus.REQUESTED)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_remarks: Mapped[str | None] = mapped_column(Text)

    invoice: Mapped[Invoice] = relationship(lazy="joined", innerjoin=True)
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined", innerjoin=True)
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id], lazy="joined")


class Deployment(Base):
    """Who deployed which file when, and the process version it made (or found already stored)."""

    __tablename__ = "deployments"
    __table_args__ = (CheckConstraint(f"outcome IN ({sql_in(DeploymentOutcome)})", name="ck_deployments_outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    deployed_by: Mapped[str] = mapped_column(String(80))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    process_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    outcome: Mapped[str] = mapped_column(String(40))  # new_version | unchanged

    version: Mapped[ProcessVersion | None] = relationship(lazy="joined")


class ApiToken(Base):
    """A bearer token for the JSON API: only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A login session; the signed cookie carries only its id (accounts.sessions)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed login attempt (page or API), kept for throttling across workers and hosts (accounts.throttle)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_pair", "username", "address", "at"),
        Index("ix_login_failures_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotentResponse(Base):
    """The first response to a state-changing API call with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # SHA-256 of the first request's canonical JSON body (NULL for records kept before migration 0008)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(Base):
    """Append-only: database triggers refuse UPDATE and DELETE (see the migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_invoice", "invoice_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON

    @property
    def details_dict(self) -> dict:
        return json.loads(self.details or "{}")

    actor: Mapped[User | None] = relationship(lazy="joined")
