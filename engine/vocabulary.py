"""The product's words, named once: statuses, task states, screens and audit actions.

Each is a StrEnum, so a member compares equal to the word stored in the database and shown in the API
(`InstanceStatus.RUNNING == "running"`). The status and screen columns carry CHECK constraints built from
these same lists (migration 0007), so a typo can never be stored.
"""

from __future__ import annotations

from enum import StrEnum


class InstanceStatus(StrEnum):
    """A process instance: running (waits on people), stopped by an incident, or finished one of two ways."""

    RUNNING = "running"
    INCIDENT = "incident"
    COMPLETED = "completed"
    TERMINATED = "terminated"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# An invoice has at most one active instance (a partial unique index says so); these may still move on.
ACTIVE_INSTANCE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.INCIDENT)


class Outcome(StrEnum):
    """How an ended instance ended, for people: what happened to the invoice's cancellation."""

    CANCELLED = "cancelled"  # the invoice was cancelled
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    TERMINATED = "terminated"
    UNDONE = "undone"  # the cancellation was undone: the invoice is open again
    COMPLETED = "completed"  # ended otherwise (a diagram's other end)

    @property
    def label(self) -> str:
        return self.value.capitalize()


class RequestStatus(StrEnum):
    """A cancellation request; the invoice's approval status repeats the latest request's."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"  # approved, and the invoice was then cancelled
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"  # the requester withdrew it before the decision

    @property
    def label(self) -> str:
        """What people read: a completed request was approved."""
        return "Approved" if self is RequestStatus.COMPLETED else self.value.capitalize()


class RequestKind(StrEnum):
    """What a request asks for: to cancel the invoice, or to undo its cancellation."""

    CANCEL = "cancel"
    UNDO = "undo"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    """A webhook delivery: waiting for its (next) attempt, delivered, given up after 24 hours, or skipped by a
    clinic administrator (a failed or skipped one no longer holds back the invoice's later events)."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class TimerStatus(StrEnum):
    """A timer of an instance (a timer event of its diagram): waiting for its due time, fired (once), cancelled
    (its step ended first) or failed (its firing failed every retry: an incident that Retry runs again)."""

    WAITING = "waiting"
    FIRED = "fired"
    CANCELLED = "cancelled"
    FAILED = "failed"


class NotificationKind(StrEnum):
    """What a person is told: a request waits on a step they may decide (also its reminder); their own request
    was decided, terminated, escalated; an instance of their clinic stopped on an incident (administrators)."""

    WAITING_FOR_YOU = "waiting_for_you"
    MY_REQUEST = "my_request"
    INCIDENT = "incident"

    @property
    def label(self) -> str:
        return {
            NotificationKind.WAITING_FOR_YOU: "A request waits for your decision",
            NotificationKind.MY_REQUEST: "Your request was approved, rejected, terminated or escalated",
            NotificationKind.INCIDENT: "An instance stopped on an incident (clinic administrators)",
        }[self]


class Delivery(StrEnum):
    """How a person wants a kind of notification by mail (the bell always shows it)."""

    IMMEDIATELY = "immediately"
    DIGEST = "digest"  # one mail a day, at 08:00 clinic time
    OFF = "off"

    @property
    def label(self) -> str:
        return {Delivery.IMMEDIATELY: "Immediately", Delivery.DIGEST: "Daily digest", Delivery.OFF: "Off"}[self]


DEFAULT_DELIVERY = {
    NotificationKind.WAITING_FOR_YOU: Delivery.DIGEST,
    NotificationKind.MY_REQUEST: Delivery.IMMEDIATELY,
    NotificationKind.INCIDENT: Delivery.IMMEDIATELY,
}


class MailStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after a day of retries


class EventType(StrEnum):
    """The changes of a cancellation that go out as CloudEvents (type clinic.invoice.cancellation.<name>)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    WITHDRAWN = "withdrawn"
    ESCALATED = "escalated"
    UNDO_REQUESTED = "undo_requested"
    UNDO_APPROVED = "undo_approved"
    UNDO_REJECTED = "undo_rejected"
    UNDONE = "undone"

    @property
    def cloudevent_type(self) -> str:
        return f"clinic.invoice.cancellation.{self.value}"


class UserTaskState(StrEnum):
    """A row of user_tasks: ready (in someone's queue), completed by a person, or cancelled by the engine."""

    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Screen(StrEnum):
    """Where a user task is done, from the task's `screen` property in the diagram (default: the invoice)."""

    INVOICE = "invoice"
    FINANCIAL_APPROVAL = "financial_approval"


class DeploymentOutcome(StrEnum):
    NEW_VERSION = "new_version"
    UNCHANGED = "unchanged"


class PaymentStatus(StrEnum):
    """What the billing system says the patient paid."""

    UNPAID = "unpaid"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


class ClaimStatus(StrEnum):
    """Where the invoice's insurance claim stands, as the billing system says."""

    NONE = "none"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"


class AuditAction(StrEnum):
    """What an audit event records (no CHECK constraint: later features add actions freely)."""

    TASK_COMPLETED = "task_completed"
    SCRIPT_VALUES = "script_values"
    APPROVAL_STATUS = "approval_status"
    INVOICE_STATUS = "invoice_status"
    INSTANCE_TERMINATED = "instance_terminated"
    INSTANCE_RETRIED = "instance_retried"
    INSTANCE_RETRY_FAILED = "instance_retry_failed"
    INSTANCE_MIGRATED = "instance_migrated"
    INSTANCE_MIGRATION_REFUSED = "instance_migration_refused"
    PROCESS_MIGRATION = "process_migration"
    PROCESS_DEPLOYED = "process_deployed"  # installation-wide: shown in every clinic's audit log
    INVOICE_RECEIVED = "invoice_received"  # from the billing system: a new invoice
    INVOICE_UPDATED = "invoice_updated"  # from the billing system: what changed
    LOGIN_FAILED = "login_failed"
    LOGIN_LOCKED = "login_locked"
    LOGGED_IN = "logged_in"
    ROLE_GRANTED = "role_granted"
    ROLE_REVOKED = "role_revoked"
    USER_DEACTIVATED = "user_deactivated"
    USER_REACTIVATED = "user_reactivated"
    USER_ADDED = "user_added"
    PASSWORD_RESET = "password_reset"  # noqa: S105 - the name of an audit action
    PASSWORD_CHANGED = "password_changed"  # noqa: S105
    CLINIC_CREATED = "clinic_created"
    CLINIC_SETTINGS_CHANGED = "clinic_settings_changed"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    CLINIC_CHOSEN = "clinic_chosen"
    UNDO_REQUESTED = "undo_requested"
    UNDO_DECIDED = "undo_decided"
    REQUEST_WITHDRAWN = "request_withdrawn"
    WEBHOOK_SET = "webhook_set"
    WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated"  # noqa: S105 - the name of an audit action
    WEBHOOK_REMOVED = "webhook_removed"
    WEBHOOK_REDELIVERED = "webhook_redelivered"
    WEBHOOK_SKIPPED = "webhook_skipped"
    TIMER_FIRED = "timer_fired"
    TIMER_FIRED_NOW = "timer_fired_now"  # a clinic administrator's Fire now
    TIMER_DUE_CHANGED = "timer_due_changed"
    TIMER_FAILED = "timer_failed"
    DECIDERS_REMINDED = "deciders_reminded"
    ESCALATED = "escalated"


# Clinic settings the diagrams may read with clinic_setting(name), and the value a new clinic starts with.
CLINIC_SETTING_DEFAULTS = {"reminder_after": "P1D", "escalate_after": "P3D"}


def sql_in(values) -> str:
    """`status IN ('running', 'incident')`-style list for CHECK constraints and partial indexes."""
    return ", ".join(f"'{v}'" for v in values)
