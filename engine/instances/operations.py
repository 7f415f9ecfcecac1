"""Domain effects the diagrams call by name from script tasks (e.g. `cancel_invoice(remarks=cancel_remarks)`).

Each runs inside the user action's transaction, with the action's context (session, actor, invoice, instance).
`OPERATIONS` is the product's set; `build_runtime` makes the runtime an app or the CLI starts with.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from sqlalchemy import select

from engine.errors import Blocked
from engine.events.outbox import emit
from engine.models import CancellationRequest, UserTask
from engine.vocabulary import (
    CLINIC_SETTING_DEFAULTS,
    AuditAction,
    EventType,
    InvoiceStatus,
    Outcome,
    RequestKind,
    RequestStatus,
    Screen,
    UserTaskState,
)
from engine.workflow.durations import in_words
from engine.workflow.limits import DEFAULT_TIME_LIMIT
from engine.workflow.runtime import Operation, WorkflowRuntime

from .context import ActionContext
from .telling import tell_deciders, tell_requester


def submit_request(ctx: ActionContext, reason: str, remarks: str) -> None:
    """Open the invoice's cancellation request: its approval status becomes Requested."""
    ctx.known_request = CancellationRequest(
        clinic_id=ctx.invoice.clinic_id,
        invoice_id=ctx.invoice.id,
        instance_id=ctx.instance.id,
        reason=reason,
        remarks=remarks,
        status=RequestStatus.REQUESTED,
        requested_by_id=ctx.actor_id,
        requested_at=ctx.now,
    )
    ctx.session.add(ctx.known_request)
    ctx.invoice.approval_status = RequestStatus.REQUESTED
    ctx.audit(AuditAction.APPROVAL_STATUS, status=RequestStatus.REQUESTED)
    _emit(ctx, EventType.REQUESTED, ctx.known_request, remarks)


DECISIONS = {"approve": RequestStatus.APPROVED, "reject": RequestStatus.REJECTED}


def record_decision(ctx: ActionContext, decision: str, remarks: str | None = None) -> None:
    """Approve or reject the open request."""
    if decision not in DECISIONS:
        raise ValueError(f"record_decision expects 'approve' or 'reject', not {decision!r}")
    request = ctx.request()
    if request is None:
        raise ValueError("record_decision: this instance has no cancellation request")
    request.status = DECISIONS[decision]
    request.decided_by_id = ctx.actor_id
    request.decided_at = ctx.now
    request.decision_remarks = remarks or None
    if request.kind == RequestKind.UNDO:  # the invoice's own approval status stays; its history tells
        if decision == "reject":
            ctx.instance.outcome = Outcome.REJECTED
        ctx.audit(AuditAction.UNDO_DECIDED, status=request.status, remarks=remarks or None)
        _emit(ctx, EventType.UNDO_APPROVED if decision == "approve" else EventType.UNDO_REJECTED, request, remarks)
        _tell_decision(ctx, request, decision, remarks)
        return
    ctx.invoice.approval_status = request.status
    if decision == "reject":
        ctx.instance.outcome = Outcome.REJECTED
    ctx.audit(AuditAction.APPROVAL_STATUS, status=request.status)
    _emit(ctx, EventType.APPROVED if decision == "approve" else EventType.REJECTED, request, remarks or None)
    _tell_decision(ctx, request, decision, remarks)


def _tell_decision(ctx: ActionContext, request: CancellationRequest, decision: str, remarks: str | None) -> None:
    who = ctx.actor_names[1] if ctx.actor_names else "the clinic"
    if decision == "approve" and request.kind == RequestKind.UNDO:
        body = f"Approved by {who}: the invoice is open again."
    elif decision == "approve":
        body = f"Approved by {who}. Next: Cancel Invoice on the invoice."
    else:
        body = f"Rejected by {who}" + (f": {remarks}" if remarks else ".")
    tell_requester(ctx, request, "approved" if decision == "approve" else "rejected", body)


def cancel_invoice(ctx: ActionContext, remarks: str | None = None) -> None:
    """Mark the invoice Cancelled; an approved request is then completed."""
    if ctx.invoice.status == InvoiceStatus.CANCELLED:
        raise ValueError("the invoice is already cancelled")
    ctx.invoice.status = InvoiceStatus.CANCELLED
    ctx.instance.outcome = Outcome.CANCELLED
    ctx.invoice.cancelled_at = ctx.now
    ctx.invoice.cancelled_by_id = ctx.actor_id
    ctx.invoice.cancel_remarks = remarks or None
    request = ctx.request()
    if request is not None:
        request.status = RequestStatus.COMPLETED
    ctx.audit(AuditAction.INVOICE_STATUS, status=InvoiceStatus.CANCELLED)
    _emit(ctx, EventType.CANCELLED, request, remarks)


def refuse_if_blocked(ctx: ActionContext, blocked: bool, message: str | None = None) -> None:
    """The cancellation blockers said no: the person's action is refused with the table's message; nothing of it
    is kept (the lifecycle re-raises the refusal rather than recording an incident)."""
    if blocked:
        ctx.refusal = Blocked(
            f"Invoice {ctx.invoice.number} may not be cancelled now. {message or 'The cancellation blockers say no.'}"
        )
        raise ctx.refusal


def withdraw_request(ctx: ActionContext, remarks: str) -> None:
    """The requester withdraws the open request (a Withdraw Request event of the diagram): Withdrawn."""
    request = ctx.request()
    if request is None or request.status != RequestStatus.REQUESTED:
        raise ValueError("withdraw_request: this instance has no open request to withdraw")
    request.status = RequestStatus.WITHDRAWN
    ctx.instance.outcome = Outcome.WITHDRAWN
    request.decided_by_id, request.decided_at, request.decision_remarks = ctx.actor_id, ctx.now, remarks or None
    ctx.invoice.approval_status = RequestStatus.WITHDRAWN
    ctx.audit(AuditAction.REQUEST_WITHDRAWN, remarks=remarks)
    _emit(ctx, EventType.WITHDRAWN, request, remarks)


UNDO_REASON = "Undo the cancellation"


def request_undo(ctx: ActionContext, remarks: str) -> None:
    """Open a request to undo the invoice's cancellation (Undo Cancel); the invoice stays cancelled until
    reopen_invoice."""
    if ctx.invoice.status != InvoiceStatus.CANCELLED:
        raise ValueError("request_undo: the invoice is not cancelled")
    ctx.known_request = CancellationRequest(
        clinic_id=ctx.invoice.clinic_id,
        invoice_id=ctx.invoice.id,
        instance_id=ctx.instance.id,
        kind=RequestKind.UNDO,
        reason=UNDO_REASON,
        remarks=remarks,
        status=RequestStatus.REQUESTED,
        requested_by_id=ctx.actor_id,
        requested_at=ctx.now,
    )
    ctx.session.add(ctx.known_request)
    ctx.audit(AuditAction.UNDO_REQUESTED, remarks=remarks)
    _emit(ctx, EventType.UNDO_REQUESTED, ctx.known_request, remarks)


def reopen_invoice(ctx: ActionContext, remarks: str | None = None) -> None:
    """The cancellation is undone: the invoice is Open again, with the same number; a new cancellation may be
    requested."""
    if ctx.invoice.status != InvoiceStatus.CANCELLED:
        raise ValueError("reopen_invoice: the invoice is not cancelled")
    ctx.invoice.status = InvoiceStatus.OPEN
    ctx.instance.outcome = Outcome.UNDONE
    ctx.invoice.cancelled_at = ctx.invoice.cancelled_by_id = ctx.invoice.cancel_remarks = None
    ctx.invoice.approval_status = None
    ctx.invoice.blockers_version_id = None  # judged again with today's table before the action ends
    request = ctx.request()
    if request is not None:
        request.status = RequestStatus.COMPLETED
    ctx.audit(AuditAction.INVOICE_STATUS, status=InvoiceStatus.OPEN)
    _emit(ctx, EventType.UNDONE, request, remarks)


def clinic_setting(ctx: ActionContext, name: str) -> str:
    """A clinic setting the diagram reads when a timer starts, e.g. clinic_setting('reminder_after') -> 'P1D'."""
    if name not in CLINIC_SETTING_DEFAULTS:
        known = ", ".join(CLINIC_SETTING_DEFAULTS)
        raise ValueError(f"clinic_setting: no setting named {name!r}; the diagrams may read {known}")
    return getattr(ctx.invoice.clinic, name)


def remind_deciders(ctx: ActionContext, after: str | None = None) -> None:
    """The request waited `after` without a decision (a Reminder timer): it shows Overdue while it waits."""
    request = ctx.request()
    if request is not None and request.status == RequestStatus.REQUESTED and request.overdue_since is None:
        request.overdue_since = ctx.now
    ctx.audit(AuditAction.DECIDERS_REMINDED, after=after, words=in_words(after))
    waiting = ctx.session.scalars(
        select(UserTask).where(
            UserTask.instance_id == ctx.instance.id,
            UserTask.state == UserTaskState.READY,
            UserTask.screen == Screen.FINANCIAL_APPROVAL,
        )
    ).all()
    for step in waiting:
        tell_deciders(ctx, step, reminder=True)


def escalate(ctx: ActionContext, after: str | None = None) -> None:
    """Nobody decided within `after` (an Escalate timer): the history says so, an `escalated` event goes out."""
    request = ctx.request()
    words = f"Escalated after {in_words(after)}" if after else "Escalated"
    ctx.audit(AuditAction.ESCALATED, after=after, words=words)
    _emit(ctx, EventType.ESCALATED, request, words)
    tell_requester(ctx, request, "escalated", f"{words}: a clinic administrator decides it now.")


def _emit(ctx: ActionContext, type_: EventType, request: CancellationRequest | None, remarks: str | None) -> None:
    emit(ctx.session, ctx.invoice, type_, ctx.actor_id, ctx.now, request, remarks, ctx.person)


def terminate_request(ctx: ActionContext, reason: str | None = None) -> None:
    """The instance is terminated: a request still open (Requested or Approved) becomes Terminated.

    Not callable from diagrams: only the lifecycle's terminate transition does this.
    """
    request = ctx.request()
    if request is not None and request.status in (RequestStatus.REQUESTED, RequestStatus.APPROVED):
        request.status = RequestStatus.TERMINATED
        request.decided_by_id, request.decided_at, request.decision_remarks = ctx.actor_id, ctx.now, reason or None
        ctx.invoice.approval_status = RequestStatus.TERMINATED
        ctx.audit(AuditAction.APPROVAL_STATUS, status=RequestStatus.TERMINATED)
        tell_requester(
            ctx, request, "terminated", f"Terminated by a clinic administrator: {reason or 'no reason given'}"
        )
    _emit(ctx, EventType.TERMINATED, request, reason)


OPERATIONS: Mapping[str, Operation] = MappingProxyType(
    {
        "submit_request": submit_request,
        "record_decision": record_decision,
        "cancel_invoice": cancel_invoice,
        "refuse_if_blocked": refuse_if_blocked,
        "withdraw_request": withdraw_request,
        "request_undo": request_undo,
        "reopen_invoice": reopen_invoice,
        "clinic_setting": clinic_setting,
        "remind_deciders": remind_deciders,
        "escalate": escalate,
    }
)


def build_runtime(
    extra: Mapping[str, Operation] | None = None, script_time_limit: float | None = None
) -> WorkflowRuntime:
    """The runtime with the product's operations (and, for tests or integrations, `extra` ones).

    `script_time_limit`: CPU seconds all diagram code of one user action may use (SCRIPT_TIME_LIMIT, default 1).
    """
    if script_time_limit is None:
        script_time_limit = float(os.environ.get("SCRIPT_TIME_LIMIT") or DEFAULT_TIME_LIMIT)
    return WorkflowRuntime({**OPERATIONS, **(extra or {})}, script_time_limit)
