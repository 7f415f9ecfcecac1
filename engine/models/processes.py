"""Process versions, their instances and user tasks, cancellation requests, deployments and the audit log."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.vocabulary import (
    ACTIVE_INSTANCE_STATUSES,
    DeploymentOutcome,
    InstanceStatus,
    Outcome,
    RequestKind,
    RequestStatus,
    Screen,
    TimerStatus,
    UserTaskState,
    sql_in,
)

from .base import Base, CompressedText, UTCDateTime, utcnow
from .clinics import Invoice, User


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
    # Large and read only when the runtime's cache of parsed and restored specs misses (or a diagram is drawn):
    # deferred, so loading an instance's version for an action reads a few small columns.
    source_files: Mapped[str] = mapped_column(Text, deferred=True)  # JSON {filename: xml}
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)  # JSON {"spec": ..., "subprocess_specs": ...}
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
        CheckConstraint(f"outcome IS NULL OR outcome IN ({sql_in(Outcome)})", name="ck_process_instances_outcome"),
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
    state_json: Mapped[str] = mapped_column(CompressedText)  # the workflow's own state (JSON), compressed
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
    # The earliest due time of its waiting timers (timers table), None without any: an action on an instance
    # without timers reads no timer row.
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How it ended (engine.vocabulary.Outcome), and why when an administrator terminated it.
    outcome: Mapped[str | None] = mapped_column(String(20))
    ended_reason: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": revision}

    version: Mapped[ProcessVersion] = relationship(lazy="joined")


class UserTask(Base):
    """A user task of an instance, mirrored so queues and lists are SQL (workflows are never loaded)."""

    __tablename__ = "user_tasks"
    __table_args__ = (
        CheckConstraint(f"state IN ({sql_in(UserTaskState)})", name="ck_user_tasks_state"),
        CheckConstraint(f"screen IN ({sql_in(Screen)})", name="ck_user_tasks_screen"),
        # Covering: Home's counts, the nav badge and the queue read everything they test from the index.
        Index(
            "ix_user_tasks_waiting",
            *("clinic_id", "state", "screen", "roles", "done_by", "element_id", "name", "instance_id"),
        ),
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
    # Who did a step of the instance before this one became ready, as ",5,12," (the requester included): they
    # may not decide it (nobody decides their own request, nobody decides twice). Carried from step to step.
    done_by: Mapped[str] = mapped_column(String(1000), default="", server_default="")
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


class NoOneMayDecide(Base):
    """A running instance whose waiting step nobody may take (see instances.deciders): written when a step
    becomes ready and when role grants or users change, so Process Instances counts and filters rows."""

    __tablename__ = "no_one_may_decide"

    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Timer(Base):
    """A timer event of an instance's diagram that waits (e.g. Reminder, Escalate on Review request): written in
    the same transaction as the workflow state, fired by the worker when due (exactly once: the firing and its
    `fired` status commit together)."""

    __tablename__ = "timers"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(TimerStatus)})", name="ck_timers_status"),
        UniqueConstraint("instance_id", "task_id"),
        Index("ix_timers_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    task_id: Mapped[str] = mapped_column(String(36))  # the SpiffWorkflow task uuid of the waiting timer event
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    interrupting: Mapped[bool] = mapped_column(default=False)
    attached_to: Mapped[str | None] = mapped_column(String(200))  # the step's name, for a boundary timer
    status: Mapped[str] = mapped_column(String(20), default=TimerStatus.WAITING)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)  # due_at, later after a failed firing
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def approvals_words(status: str, needed: int | None, left: int | None, path: str | None) -> str | None:
    if status != RequestStatus.REQUESTED or not needed or needed < 2 or not left or not path:
        return None
    if left >= needed:
        return f"Needs {needed} approvals: {path}"
    return f"Approval {needed - left + 1} of {needed}: {path}"


class CancellationRequest(Base):
    """An invoice cancellation request of an approval clinic and the decision on it."""

    __tablename__ = "cancellation_requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(RequestStatus)})", name="ck_cancellation_requests_status"),
        CheckConstraint(f"kind IN ({sql_in(RequestKind)})", name="ck_cancellation_requests_kind"),
        Index("ix_requests_clinic_status_time", "clinic_id", "status", "requested_at"),
        Index("ix_requests_requester", "clinic_id", "requested_by_id", "requested_at", "id"),  # Home's My requests
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
    # What the request is for: cancelling the invoice, or undoing its cancellation (Undo Cancel).
    kind: Mapped[str] = mapped_column(String(20), default=RequestKind.CANCEL, server_default="cancel")
    # When the deciders were reminded (the diagram's Reminder timer): the request is Overdue while it waits.
    overdue_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the diagram's approval policy decided, stored when the request first waits for a decision: how many
    # Financial Approval steps it needs, how many are still ahead, and those steps' lanes ("Approver or Clinic
    # administrator, then Clinic administrator"); NULL for requests made before this was recorded.
    approvals_needed: Mapped[int | None] = mapped_column()
    approvals_left: Mapped[int | None] = mapped_column()
    approval_path: Mapped[str | None] = mapped_column(String(500))

    invoice: Mapped[Invoice] = relationship(lazy="joined", innerjoin=True)
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id], lazy="joined", innerjoin=True)

    @property
    def approvals_words(self) -> str | None:
        """While it waits and needs more than one approval: "Needs 2 approvals: Approver or Clinic administrator,
        then Clinic administrator" before the first, "Approval 2 of 2: Clinic administrator" after it."""
        return approvals_words(self.status, self.approvals_needed, self.approvals_left, self.approval_path)

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
