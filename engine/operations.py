"""Domain effects the diagrams call by name from script tasks (e.g. `cancel_invoice(remarks=cancel_remarks)`).

Each runs inside the user action's transaction, with the action's context (session, actor, invoice, instance).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, utcnow
from .runtime import operation


@dataclass
class ActionContext:
    session: Session
    actor_id: int
    invoice: Invoice
    instance: ProcessInstance
    now: datetime = field(default_factory=utcnow)

    def audit(self, action: str, **details) -> None:
        self.session.add(
            AuditEvent(
                clinic_id=self.invoice.clinic_id,
                invoice_id=self.invoice.id,
                instance_id=self.instance.id,
                actor_id=self.actor_id,
                action=action,
                at=self.now,
                details=json.dumps(details, default=str),
            )
        )

    def script_values(self, task_name: str, values: dict) -> None:
        """A script task set these variables: kept in the history."""
        self.audit("script_values", task=task_name, values=[[k, str(v)] for k, v in sorted(values.items())])

    known_request: CancellationRequest | None = None

    def request(self) -> CancellationRequest | None:
        if self.known_request is None:
            self.known_request = self.session.scalar(
                select(CancellationRequest).where(CancellationRequest.instance_id == self.instance.id)
            )
        return self.known_request


@operation("submit_request")
def submit_request(ctx: ActionContext, reason: str, remarks: str) -> None:
    """Open the invoice's cancellation request: its approval status becomes Requested."""
    ctx.session.add(
        CancellationRequest(
            clinic_id=ctx.invoice.clinic_id,
            invoice_id=ctx.invoice.id,
            instance_id=ctx.instance.id,
            reason=reason,
            remarks=remarks,
            status="requested",
            requested_by_id=ctx.actor_id,
            requested_at=ctx.now,
        )
    )
    ctx.invoice.approval_status = "requested"
    ctx.audit("approval_status", status="requested")


@operation("record_decision")
def record_decision(ctx: ActionContext, decision: str, remarks: str | None = None) -> None:
    """Approve or reject the open request."""
    if decision not in ("approve", "reject"):
        raise ValueError(f"record_decision expects 'approve' or 'reject', not {decision!r}")
    request = ctx.request()
    if request is None:
        raise ValueError("record_decision: this instance has no cancellation request")
    request.status = "approved" if decision == "approve" else "rejected"
    request.decided_by_id = ctx.actor_id
    request.decided_at = ctx.now
    request.decision_remarks = remarks or None
    ctx.invoice.approval_status = request.status
    ctx.audit("approval_status", status=request.status)


@operation("cancel_invoice")
def cancel_invoice(ctx: ActionContext, remarks: str | None = None) -> None:
    """Mark the invoice Cancelled; an approved request is then completed."""
    if ctx.invoice.status == "cancelled":
        raise ValueError("the invoice is already cancelled")
    ctx.invoice.status = "cancelled"
    ctx.invoice.cancelled_at = ctx.now
    ctx.invoice.cancelled_by_id = ctx.actor_id
    request = ctx.request()
    if request is not None:
        request.status = "completed"
    ctx.audit("invoice_status", status="cancelled")
