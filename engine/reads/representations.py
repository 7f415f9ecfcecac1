"""Invoices and cancellation requests as plain data for other systems (the JSON API's resources)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts.roles import role_names
from engine.accounts.users import Actor
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, ProcessVersion, User, UserTask
from engine.vocabulary import InstanceStatus, RequestStatus, Screen, UserTaskState

from .offers import CANCEL_STEP, REQUEST_STEP, UNDO_STEP, Action, actions_for_invoices

# The API names the invoice screen's steps by what they do, whatever the diagram's element ids.
API_ACTIONS = {REQUEST_STEP: "request_cancellation", CANCEL_STEP: "cancel", UNDO_STEP: "undo_cancel"}
DECISIONS = {RequestStatus.APPROVED: "approve", RequestStatus.COMPLETED: "approve", RequestStatus.REJECTED: "reject"}


_ERROR_KIND = re.compile(r"^([A-Za-z_][A-Za-z0-9_.]*):")


def incident_json(instance: ProcessInstance, full: bool = False) -> dict | None:
    """The instance's incident: where and when; the error text itself only for its clinic's administrators
    (`full`), since a script's message may carry the instance's data. Others read the error's kind."""
    if instance.status != InstanceStatus.INCIDENT:
        return None
    message = instance.incident_message or ""
    if not full:
        match = _ERROR_KIND.match(message)
        kind = f" ({match.group(1)})" if match else ""
        message = (
            f"The step '{instance.incident_element}' failed{kind}; your input was saved and the clinic "
            "administrator follows it up."
        )
    return {"element": instance.incident_element, "message": message, "at": iso(instance.incident_at)}


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _remarks(values: dict) -> str | None:
    for key in ("decision_remarks", "remarks", *sorted(k for k in values if k.endswith("remarks"))):
        if values.get(key):
            return values[key]
    return None


def request_json(session: Session, request: CancellationRequest, instance: ProcessInstance | None = None) -> dict:
    instance = instance or session.get(ProcessInstance, request.instance_id)
    steps = session.execute(
        select(UserTask, User.username)
        .join(User, User.id == UserTask.completed_by_id)
        .where(
            UserTask.instance_id == request.instance_id,
            UserTask.state == UserTaskState.COMPLETED,
            UserTask.screen == Screen.FINANCIAL_APPROVAL,
        )
        .order_by(UserTask.completed_at, UserTask.id)
    ).all()
    approvals = []
    for step, username in steps:
        values = step.values
        approvals.append(
            {
                "step": step.name,
                "decision": values.get("decision"),
                "remarks": _remarks(values),
                "decided_by": username,
                "decided_at": iso(step.completed_at),
            }
        )
    waiting_for = None
    if instance is not None and instance.status == InstanceStatus.RUNNING and instance.waiting_task:
        waiting_for = {"task": instance.waiting_task, "role": role_names(instance.waiting_roles or "")}
    decision = None
    if request.decided_at is not None and request.status in DECISIONS:
        decision = {
            "decision": DECISIONS[request.status],
            "remarks": request.decision_remarks,
            "decided_by": request.decided_by.username if request.decided_by else None,
            "decided_at": iso(request.decided_at),
        }
    return {
        "id": request.id,
        "invoice_number": request.invoice.number,
        "kind": request.kind,
        "status": request.status,
        "reason": request.reason,
        "remarks": request.remarks,
        "requested_by": request.requested_by.username,
        "requested_at": iso(request.requested_at),
        "waiting_for": waiting_for,
        "decision": decision,
        "approvals": approvals,
        "approvals_needed": request.approvals_needed,
        "approvals_left": request.approvals_left,
        "approval_path": request.approval_path,
        "process_instance_id": request.instance_id,
        "outcome": instance.outcome if instance is not None else None,
    }


def _allowed(actions: list[Action]) -> list[str]:
    return [API_ACTIONS[a.element_id] for a in actions if a.enabled and a.element_id in API_ACTIONS]


def blockers_json(session: Session, invoices: list[Invoice]) -> dict[int, dict]:
    """What the cancellation blockers said of each invoice, as stored (one query for the tables' versions)."""
    ids = {i.blockers_version_id for i in invoices if i.blockers_version_id is not None}
    versions = {
        row.id: {"process": row.process_id, "version": row.version}
        for row in session.execute(
            select(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.version).where(
                ProcessVersion.id.in_(ids)
            )
        )
    } if ids else {}  # fmt: skip
    return {
        i.id: {
            "blocked": i.blocked,
            "message": i.blocked_message,
            "decided_by": versions.get(i.blockers_version_id),
        }
        for i in invoices
    }


def invoices_json(session: Session, actor: Actor, invoices: list[Invoice]) -> list[dict]:
    """A page of invoices with their current request and the caller's allowed actions, in a few queries."""
    actions = actions_for_invoices(session, actor, invoices) if invoices else {}
    ids = [i.id for i in invoices]
    latest: dict[int, CancellationRequest] = {}
    if ids:
        for request in session.scalars(
            select(CancellationRequest).where(CancellationRequest.invoice_id.in_(ids)).order_by(CancellationRequest.id)
        ):
            latest[request.invoice_id] = request
    blockers = blockers_json(session, invoices)
    return [
        {
            "number": i.number,
            "patient_name": i.patient_name,
            "patient_id": i.patient_id,
            "invoice_date": i.invoice_date.isoformat(),
            "amount": str(i.amount),
            "currency": i.clinic.currency,
            "status": i.status,
            "payment_status": i.payment_status,
            "insurance_claim_status": i.claim_status,
            "advance_applied": str(i.advance_applied),
            "cancellation_blockers": blockers[i.id],
            "cancellation_request": request_json(session, latest[i.id]) if i.id in latest else None,
            "allowed_actions": _allowed(actions[i.id]),
        }
        for i in invoices
    ]


def invoice_data_json(session: Session, invoice: Invoice) -> dict:
    """An invoice as the billing system sends it, and whether its cancellation is blocked now
    (PUT /api/invoices/{number} answers with this)."""
    return {
        "number": invoice.number,
        "patient_id": invoice.patient_id,
        "patient_name": invoice.patient_name,
        "invoice_date": invoice.invoice_date.isoformat(),
        "amount": str(invoice.amount),
        "currency": invoice.clinic.currency,
        "payment_status": invoice.payment_status,
        "insurance_claim_status": invoice.claim_status,
        "advance_applied": str(invoice.advance_applied),
        "status": invoice.status,
        "cancellation_blockers": blockers_json(session, [invoice])[invoice.id],
    }


def history_json(session: Session, invoice: Invoice) -> list[dict]:
    events = session.execute(
        select(AuditEvent, User.username)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.invoice_id == invoice.id)
        .order_by(AuditEvent.id)
    ).all()
    return [{"at": iso(e.at), "by": username, "action": e.action, "details": e.details_dict} for e, username in events]


def latest_request(session: Session, invoice: Invoice) -> CancellationRequest | None:
    return session.scalars(
        select(CancellationRequest)
        .where(CancellationRequest.invoice_id == invoice.id)
        .order_by(CancellationRequest.id.desc())
    ).first()


def instance_json(session: Session, instance: ProcessInstance) -> dict:
    """An instance for other systems: version, business key, status, ready and completed tasks."""
    invoice = session.get(Invoice, instance.invoice_id)
    rows = session.scalars(select(UserTask).where(UserTask.instance_id == instance.id).order_by(UserTask.id)).all()
    ids = {r.completed_by_id for r in rows if r.completed_by_id}
    users = dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}
    incident = incident_json(instance, full=True)  # the API's instances are for clinic administrators
    return {
        "id": instance.id,
        "process_id": instance.version.process_id,
        "process_version": instance.version.version,
        "business_key": instance.business_key,
        "invoice_number": invoice.number,
        "status": instance.status,
        "incident": incident,
        "ready_tasks": [
            {"id": r.id, "element_id": r.element_id, "name": r.name, "lane": r.lane, "since": iso(r.created_at)}
            for r in rows
            if r.state == UserTaskState.READY
        ],
        "completed_tasks": [
            {
                "id": r.id,
                "element_id": r.element_id,
                "name": r.name,
                "completed_by": users.get(r.completed_by_id),
                "completed_at": iso(r.completed_at),
            }
            for r in rows
            if r.state == UserTaskState.COMPLETED
        ],
    }
