"""The context of one user action on one instance: what the lifecycle, the task rows and the operations share."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, lazyload

from engine.errors import DomainError
from engine.models import CancellationRequest, Invoice, ProcessInstance, utcnow
from engine.vocabulary import AuditAction
from engine.workflow.runtime import WorkflowRuntime

from . import history


def invoice_facts(invoice: Invoice) -> dict:
    """What every instance knows of its invoice (workflow.checks.SEEDED names these for validation): seeded at
    the start and refreshed before each step, since the billing system may have changed the invoice meanwhile."""
    return {
        "invoice_number": invoice.number,
        "patient_name": invoice.patient_name,
        "patient_id": invoice.patient_id,
        "amount": invoice.amount,
        "currency": invoice.clinic.currency,
        "payment_status": invoice.payment_status,
        "claim_status": invoice.claim_status,
        "advance_applied": invoice.advance_applied,
        "cancellation_workflow": invoice.clinic.cancellation_mode,  # approval | direct
    }


# The instance's request; its invoice is the action's, already in the session (not joined again).
_REQUEST_OF = (
    select(CancellationRequest)
    .options(lazyload(CancellationRequest.invoice))
    .where(CancellationRequest.instance_id == bindparam("instance_id"))
)


@dataclass
class ActionContext:
    """Who acts on which invoice and instance, in which unit of work, at what time (one `now` per action)."""

    session: Session
    runtime: WorkflowRuntime
    actor_id: int
    invoice: Invoice
    instance: ProcessInstance
    now: datetime = field(default_factory=utcnow)
    known_request: CancellationRequest | None = None
    # An operation refused the person's action (e.g. the invoice is blocked): the transition re-raises it so the
    # whole action rolls back, instead of keeping the SAVE and recording an incident.
    refusal: DomainError | None = None
    # The instance's ready user task rows after the transition (set when it is saved): what happens next.
    waiting: list | None = None
    # The acting person's username and name, as events and messages name them (None: the system, e.g. a timer).
    actor_names: tuple[str, str] | None = None

    @property
    def person(self) -> dict | None:
        """Who acts, as an event names them: {"username", "name"}, or None."""
        return {"username": self.actor_names[0], "name": self.actor_names[1]} if self.actor_names else None

    def audit(self, action: AuditAction, **details) -> None:
        """A row of the invoice's history (written with the action's other rows: engine.instances.history)."""
        history.record(
            self.session,
            {
                "clinic_id": self.invoice.clinic_id,
                "invoice_id": self.invoice.id,
                "instance_id": self.instance.id,
                "actor_id": self.actor_id,
                "action": action,
                "at": self.now,
                "details": json.dumps(details, default=str),
            },
        )

    def script_values(self, task_name: str, values: dict) -> None:
        """A script task set these variables: kept in the history."""
        self.audit(AuditAction.SCRIPT_VALUES, task=task_name, values=[[k, str(v)] for k, v in sorted(values.items())])

    def request(self) -> CancellationRequest | None:
        """The instance's cancellation request, read once per action. A request this action made is known
        already (operations set `known_request`), so the read needs no flush of the action's changes first."""
        if self.known_request is None:
            with self.session.no_autoflush:
                self.known_request = self.session.scalar(_REQUEST_OF, {"instance_id": self.instance.id})
        return self.known_request
