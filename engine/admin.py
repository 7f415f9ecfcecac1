"""Clinic administrators steer instances: the detail of one, retry an incident, terminate with a reason."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lxml import etree
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import Actor
from .errors import Conflict, Forbidden, Invalid, NotFound
from .models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, User, UserTask
from .operations import ActionContext
from .runtime import dump_workflow, load_workflow, operations_bound_to
from .tasks import set_waiting, sync_ready_rows

ADMIN_ROLE = "admin"
REASON_MAX = 1000
_BPMN = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}


def _require_admin(actor: Actor) -> None:
    if ADMIN_ROLE not in actor.roles:
        raise Forbidden("Only a clinic administrator may do this.")


def get_instance(session: Session, actor: Actor, instance_id: int, lock: bool = False) -> ProcessInstance:
    """An instance of the admin's clinic; another clinic's instance is not found.

    With lock, the invoice row is locked first, as every user action on the invoice does, then the
    instance is read again: an admin action and a user's SAVE on the same invoice never interleave.
    """
    _require_admin(actor)
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.clinic_id != actor.clinic_id:
        raise NotFound(f"Process instance {instance_id} was not found in {actor.clinic_name}.")
    if lock:
        session.scalar(select(Invoice).where(Invoice.id == instance.invoice_id).with_for_update(of=Invoice))
        session.refresh(instance)
    return instance


@dataclass
class TaskLine:
    element_id: str
    name: str
    kind: str
    state: str
    lane: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class InstanceDetail:
    instance: ProcessInstance
    invoice: Invoice
    xml: str
    ready: list[str]
    completed: list[str]
    failed: list[str]
    cancelled: list[str]
    flows_taken: list[str]
    tasks: list[TaskLine]
    variables: dict[str, Any]
    events: list[AuditEvent]


def instance_detail(session: Session, actor: Actor, instance_id: int) -> InstanceDetail:
    """Everything the instance page shows; the only place that loads a workflow for monitoring."""
    instance = get_instance(session, actor, instance_id)
    version = instance.version
    workflow = load_workflow(instance.state_json, version.spec_json)
    xml = next(iter(json.loads(version.source_files).values()))
    by_state: dict[str, set[str]] = {"ready": set(), "completed": set(), "failed": set()}
    lines = []
    rows = {
        r.task_id: r
        for r in session.scalars(select(UserTask).where(UserTask.instance_id == instance.id).order_by(UserTask.id))
    }
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_({r.completed_by_id for r in rows.values()})))
    }
    for task in workflow.get_tasks():
        spec = task.task_spec
        if not getattr(spec, "bpmn_id", None):
            continue
        state = _state_word(task.state)
        if state in by_state:
            by_state[state].add(spec.bpmn_id)
        row = rows.get(str(task.id))
        if state == "future" or (state == "cancelled" and row is None):
            continue
        completer = users.get(row.completed_by_id) if row else None
        lines.append(
            TaskLine(
                element_id=spec.bpmn_id,
                name=spec.bpmn_name or spec.bpmn_id,
                kind=type(spec).__name__.replace("Task", " task").strip(),
                state=state,
                lane=spec.lane,
                completed_by=f"{completer.full_name} ({completer.username})" if completer else None,
                completed_at=row.completed_at if row else None,
                values=json.loads(row.form_data) if row and row.form_data else {},
            )
        )
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id))
    )
    variables = {k: v for k, v in workflow.last_task.data.items()} if workflow.last_task else {}
    return InstanceDetail(
        instance=instance,
        invoice=session.get(Invoice, instance.invoice_id),
        xml=xml,
        ready=sorted(by_state["ready"]),
        completed=sorted(by_state["completed"]),
        failed=sorted(by_state["failed"]),
        cancelled=sorted(
            {r.element_id for r in rows.values() if r.state == "cancelled"} - by_state["ready"] - by_state["completed"]
        ),
        flows_taken=_flows_taken(xml, instance.version.process_id, by_state["completed"], by_state),
        tasks=lines,
        variables=variables,
        events=events,
    )


def _state_word(state: int) -> str:
    if state & TaskState.COMPLETED:
        return "completed"
    if state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        return "ready"
    if state & TaskState.ERROR:
        return "failed"
    if state & TaskState.CANCELLED:
        return "cancelled"
    return "future"


def _flows_taken(xml: str, process_id: str, completed: set[str], by_state: dict[str, set[str]]) -> list[str]:
    """Sequence flows whose source completed and whose target was reached (completed, ready or failed)."""
    reached = completed | by_state["ready"] | by_state["failed"]
    root = etree.fromstring(xml.encode())  # noqa: S320 - a stored, validated process file
    flows = root.xpath("//bpmn:process[@id=$p]//bpmn:sequenceFlow", p=process_id, namespaces=_BPMN)
    return sorted(f.get("id") for f in flows if f.get("sourceRef") in completed and f.get("targetRef") in reached)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid({"reason": "Reason is required: say why the instance is terminated."})
    if len(text) > REASON_MAX:
        raise Invalid({"reason": f"Reason is {len(text)} characters long; shorten it to at most {REASON_MAX}."})
    return text


def terminate(session: Session, actor: Actor, instance_id: int, reason: str | None) -> None:
    """End a running (or failed) instance: its ready tasks leave every queue, the request becomes Terminated."""
    instance = get_instance(session, actor, instance_id, lock=True)
    text = _reason(reason)
    if instance.status not in ("running", "incident"):
        raise Conflict(
            f"This instance is already {instance.status.capitalize()}: only a running one can be terminated."
        )
    invoice = session.get(Invoice, instance.invoice_id)
    context = ActionContext(session, actor.user_id, invoice, instance)
    workflow = load_workflow(instance.state_json, instance.version.spec_json)
    workflow.cancel()
    instance.status = "terminated"
    instance.completed_at = context.now
    instance.state_json = dump_workflow(workflow)
    instance.updated_at = context.now
    for row in session.scalars(select(UserTask).where(UserTask.instance_id == instance.id, UserTask.state == "ready")):
        row.state = "cancelled"
    set_waiting(instance, [])
    request = session.scalar(select(CancellationRequest).where(CancellationRequest.instance_id == instance.id))
    if request is not None and request.status in ("requested", "approved"):
        request.status = "terminated"
        request.decision_remarks = request.decision_remarks or None
        invoice.approval_status = "terminated"
        context.audit("approval_status", status="terminated")
    context.audit("instance_terminated", reason=text)


def retry(session: Session, actor: Actor, instance_id: int) -> bool:
    """Run the failed element again. True when it went through; False keeps the incident with the new error."""
    instance = get_instance(session, actor, instance_id, lock=True)
    if instance.status != "incident":
        raise Conflict("This instance has no incident to retry.")
    invoice = session.get(Invoice, instance.invoice_id)
    context = ActionContext(session, actor.user_id, invoice, instance)
    workflow = load_workflow(instance.state_json, instance.version.spec_json)
    failed = workflow.get_tasks(state=TaskState.ERROR)
    try:
        with operations_bound_to(context):
            for task in failed:
                task.run()
            workflow.do_engine_steps()
    except WorkflowException as exc:
        # Steps that went through before the failure stay done, in the state and in their effects alike.
        instance.incident_message = str(exc)
        instance.incident_at = context.now
        instance.incident_element = getattr(getattr(exc, "task_spec", None), "name", instance.incident_element)
        instance.state_json = dump_workflow(workflow)
        instance.updated_at = context.now
        context.audit("instance_retry_failed", element=instance.incident_element, message=str(exc))
        return False
    previous = instance.incident_element
    instance.status = "completed" if workflow.is_completed() else "running"
    instance.completed_at = context.now if workflow.is_completed() else None
    instance.incident_element = instance.incident_message = instance.incident_at = None
    instance.state_json = dump_workflow(workflow)
    instance.updated_at = context.now
    session.flush()
    sync_ready_rows(session, workflow, instance, context.now)
    context.audit("instance_retried", element=previous)
    return True
