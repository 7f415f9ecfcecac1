"""One process instance as its clinic administrator sees it: the diagram with what is done, waiting and failed,
its tasks with who did them, its variables and its history. The only read that loads a workflow."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.roles import ROLES
from engine.accounts.users import Actor
from engine.errors import NotFound
from engine.instances import deciders
from engine.models import AuditEvent, Invoice, NoOneMayDecide, ProcessInstance, Timer, User, UserTask
from engine.vocabulary import UserTaskState
from engine.workflow.checks import NS
from engine.workflow.runtime import runtime_of


class Marking(StrEnum):
    """How the diagram marks an element of the instance (the page's legend and the viewer's CSS classes)."""

    READY = "ready"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FUTURE = "future"


def get_instance(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """An instance of the administrator's clinic, to look at; another clinic's instance is not found."""
    require(actor, Permission.MONITOR_INSTANCES)
    return find_instance(session, actor, instance_id)


def find_instance(session: Session, actor: Actor, instance_id: int) -> ProcessInstance:
    """An instance of the actor's clinic (the caller checks the permission); another clinic's is not found."""
    instance = session.get(ProcessInstance, instance_id)
    if instance is None or instance.clinic_id != actor.clinic_id:
        raise NotFound(f"Process instance {instance_id} was not found in {actor.clinic_name}.")
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
    no_one: list[NoOne] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)  # every timer the instance had, oldest first


@dataclass(frozen=True)
class NoOne:
    """A waiting step no one may take, and why: who holds its roles but took part in the request already."""

    step: str
    roles: str  # "Approver or Clinic administrator"
    excluded: list[str]  # "Ada Admin (admin)"
    separated: bool  # a decision: who took part in the request may not take it


def instance_detail(session: Session, actor: Actor, instance_id: int) -> InstanceDetail:
    """Everything the instance page shows."""
    instance = get_instance(session, actor, instance_id)
    version = instance.version
    runtime = runtime_of(session)
    workflow = runtime.load_workflow(instance.state_json, version)
    loaded = runtime.spec_of(version)
    xml = version.bpmn_xml
    by_state: dict[str, set[str]] = {Marking.READY: set(), Marking.COMPLETED: set(), Marking.FAILED: set()}
    rows = {
        r.task_id: r
        for r in session.scalars(select(UserTask).where(UserTask.instance_id == instance.id).order_by(UserTask.id))
    }
    users = {
        u.id: u for u in session.scalars(select(User).where(User.id.in_({r.completed_by_id for r in rows.values()})))
    }
    lines = []
    for task in workflow.get_tasks():
        spec = task.task_spec
        if not getattr(spec, "bpmn_id", None):
            continue
        state = _state_word(task.state)
        if state == Marking.READY and type(spec).__name__ == "BoundaryEvent":
            continue  # waiting to be caught (e.g. Withdraw Request): the step it is attached to is what waits
        if state in by_state:
            by_state[state].add(spec.bpmn_id)
        row = rows.get(str(task.id))
        if state == Marking.FUTURE or (state == Marking.CANCELLED and row is None):
            continue
        completer = users.get(row.completed_by_id) if row else None
        lines.append(_line(spec, state, row, completer, loaded, actor.locale))
    events = list(
        session.scalars(select(AuditEvent).where(AuditEvent.instance_id == instance.id).order_by(AuditEvent.id))
    )
    cancelled = {r.element_id for r in rows.values() if r.state == UserTaskState.CANCELLED}
    return InstanceDetail(
        instance=instance,
        invoice=session.get(Invoice, instance.invoice_id),
        xml=xml,
        ready=sorted(by_state[Marking.READY]),
        completed=sorted(by_state[Marking.COMPLETED]),
        failed=sorted(by_state[Marking.FAILED]),
        cancelled=sorted(cancelled - by_state[Marking.READY] - by_state[Marking.COMPLETED]),
        flows_taken=_flows_taken(xml, version.process_id, by_state),
        tasks=lines,
        variables=dict(workflow.last_task.data) if workflow.last_task else {},
        events=events,
        no_one=_no_one(session, instance, list(rows.values())),
        timers=list(session.scalars(select(Timer).where(Timer.instance_id == instance.id).order_by(Timer.id))),
    )


def _no_one(session: Session, instance: ProcessInstance, rows: list[UserTask]) -> list[NoOne]:
    """Why the instance is flagged No one may decide (nothing when it is not flagged)."""
    if session.get(NoOneMayDecide, instance.id) is None:
        return []
    ready = [r for r in rows if r.state == UserTaskState.READY]
    held = deciders.holders(session, instance.clinic_id)
    took_part = {r.completed_by_id for r in rows if r.state == UserTaskState.COMPLETED}
    found = []
    for row in deciders.stuck_rows(session, instance, ready) or ready:
        roles = deciders.row_roles(row)
        excluded_ids = set().union(*(held.get(r, set()) for r in roles)) & deciders.excluded_from(row.screen, took_part)
        users = session.scalars(select(User).where(User.id.in_(excluded_ids)).order_by(User.full_name))
        names = [f"{u.full_name} ({u.username})" for u in users]
        separated = row.screen in deciders.SEPARATED_SCREENS
        found.append(NoOne(row.name, " or ".join(ROLES.get(r, r) for r in roles), names, separated))
    return found


def _shown(loaded, element_id: str, values: dict, locale: str) -> dict:
    """A step's stored values as the form showed them: field labels, option names ("Decision: Approve"), days as
    the clinic writes them."""
    try:
        form = loaded.form(element_id)
    except (KeyError, ValueError, AttributeError):
        return values
    fields = {f.id: f for f in form.fields}
    shown = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            shown[key] = value
        else:
            shown[field.label] = field.shown(value, locale)
    return shown


def _line(spec, state: Marking, row: UserTask | None, completer: User | None, loaded, locale: str) -> TaskLine:
    return TaskLine(
        element_id=spec.bpmn_id,
        name=spec.bpmn_name or spec.bpmn_id,
        kind=type(spec).__name__.replace("Task", " task").strip(),
        state=state,
        lane=spec.lane,
        completed_by=f"{completer.full_name} ({completer.username})" if completer else None,
        completed_at=row.completed_at if row else None,
        values=_shown(loaded, spec.bpmn_id, row.values, locale) if row and row.values else {},
    )


def _state_word(state: int) -> Marking:
    if state & TaskState.COMPLETED:
        return Marking.COMPLETED
    if state & (TaskState.READY | TaskState.STARTED | TaskState.WAITING):
        return Marking.READY
    if state & TaskState.ERROR:
        return Marking.FAILED
    if state & TaskState.CANCELLED:
        return Marking.CANCELLED
    return Marking.FUTURE


def _flows_taken(xml: str, process_id: str, by_state: dict[str, set[str]]) -> list[str]:
    """Sequence flows whose source completed and whose target was reached (completed, ready or failed)."""
    completed = by_state[Marking.COMPLETED]
    reached = completed | by_state[Marking.READY] | by_state[Marking.FAILED]
    root = etree.fromstring(xml.encode())  # noqa: S320 - a stored, validated process file
    flows = root.xpath("//bpmn:process[@id=$p]//bpmn:sequenceFlow", p=process_id, namespaces=NS)
    return sorted(f.get("id") for f in flows if f.get("sourceRef") in completed and f.get("targetRef") in reached)
