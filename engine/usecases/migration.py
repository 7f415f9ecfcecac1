"""Move waiting instances from one version of a process to another: a dry run that says in words what happens to
each, then one by one."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.db import unit_of_work
from engine.errors import DomainError, Invalid, NotFound
from engine.instances import lifecycle
from engine.models import AuditEvent, Invoice, ProcessInstance, ProcessVersion
from engine.vocabulary import ACTIVE_INSTANCE_STATUSES, AuditAction, InstanceStatus
from engine.workflow.runtime import runtime_of

MIGRATABLE = ACTIVE_INSTANCE_STATUSES


@dataclass
class PlanLine:
    instance_id: int
    invoice_number: str
    status: str
    waiting: str
    outcome: str  # kept | changed | removed | not waiting
    detail: str

    @property
    def movable(self) -> bool:
        return self.outcome in ("kept", "changed")


def _versions(session: Session, from_id: int, to_id: int) -> tuple[ProcessVersion, ProcessVersion]:
    old, new = session.get(ProcessVersion, from_id), session.get(ProcessVersion, to_id)
    if old is None or new is None:
        raise NotFound("Choose two existing versions of the process.")
    if old.process_id != new.process_id:
        raise Invalid({"to": "Migrate between versions of the same process."})
    if new.id == old.id:
        raise Invalid({"to": f"Choose a version other than {old.version}: instances move to another version."})
    return old, new


def _candidates(session: Session, actor: Actor, old: ProcessVersion, element_id: str, ids: list[int] | None):
    query = select(ProcessInstance).where(ProcessInstance.process_version_id == old.id)
    if not actor.is_analyst:
        query = query.where(ProcessInstance.clinic_id == actor.clinic_id)
    if ids:
        query = query.where(ProcessInstance.id.in_(ids))
    else:
        query = query.where(ProcessInstance.status.in_(MIGRATABLE))
        if element_id:
            query = query.where(
                (ProcessInstance.waiting_element == element_id) | (ProcessInstance.incident_element == element_id)
            )
    return list(session.scalars(query.order_by(ProcessInstance.id)))


def _diff(session: Session, instance: ProcessInstance, new: ProcessVersion):
    """How the instance's workflow lines up with the new version: (spec diff, workflow diff, its open tasks)."""
    runtime = runtime_of(session)
    workflow = runtime.load_workflow(instance.state_json, instance.version)
    spec_diff = SpecDiff(runtime.serializer.registry, workflow.spec, runtime.spec_of(new).spec)
    open_tasks = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.ERROR)
    return spec_diff, WorkflowDiff(workflow, spec_diff), open_tasks


def _plan_line(session: Session, instance: ProcessInstance, new: ProcessVersion, number: str | None = None):
    number = number or session.scalar(select(Invoice.number).where(Invoice.id == instance.invoice_id))
    waiting = instance.waiting_task or instance.incident_element or ""
    line = PlanLine(instance.id, number, instance.status, waiting, "not waiting", "it is not waiting: nothing to move")
    if instance.status in MIGRATABLE:
        line.outcome, line.detail = what_happens(*_diff(session, instance, new), instance.version.version, new.version)
        if instance.status == InstanceStatus.INCIDENT and line.movable:
            line.detail += "; retry it after the move"
    return line


# What a changed task spec attribute means to an analyst (SpecDiff names the attributes).
_ATTRIBUTE_WORDS = {
    "form": "form",
    "lane": "lane",
    "script": "script",
    "extensions": "properties",
    "inputs": "preceding steps",
    "outputs": "following steps",
    "cond_task_specs": "conditions",
    "event_definition": "event",
    "typename": "kind of step",
    "documentation": "description",
}


def _quoted(spec) -> str:
    return f"'{spec.bpmn_name or spec.name}'"


def what_happens(spec_diff: SpecDiff, diff: WorkflowDiff, open_tasks, old_version: int, new_version: int):
    """(outcome, words): what moving to `new_version` does to an instance waiting on `open_tasks`; the outcome is
    kept | changed | removed, the words say it of each step it waits on."""
    removed = [t for t in open_tasks if t in diff.removed]
    if removed:
        names = " and ".join(_quoted(t.task_spec) for t in removed)
        verb = "is" if len(removed) == 1 else "are"
        return (
            "removed",
            f"cannot move: {names} {verb} not in version {new_version} — it stays on version {old_version}",
        )
    # The steps it waits on; its boundary events (timers, withdrawal) are named only when they change.
    steps = [t for t in open_tasks if t.state in (TaskState.READY, TaskState.ERROR) and t.task_spec.bpmn_id]
    events = [t for t in open_tasks if t not in steps and t.task_spec.bpmn_id]
    words = [_step_words(t, diff, spec_diff) for t in steps or events]
    words += [f"{_quoted(t.task_spec)} changes" for t in events if steps and t in diff.changed]
    outcome = "changed" if any(t in diff.changed for t in open_tasks) else "kept"
    return outcome, "; ".join(words) or "it waits on no step: nothing changes"


def _step_words(task, diff: WorkflowDiff, spec_diff: SpecDiff) -> str:
    spec, target = task.task_spec, diff.alignment[task]
    if target.name != spec.name:  # aligned by its place in the diagram: another element takes its place
        return f"moves from {_quoted(spec)} to {_quoted(target)}"
    attributes = spec_diff.changed.get(spec, [])
    changes = []
    if "bpmn_name" in attributes:
        changes.append(f"renamed {_quoted(target)}")
    others = sorted({_ATTRIBUTE_WORDS.get(a, a.replace("_", " ")) for a in attributes if a != "bpmn_name"})
    if others:
        listed = " and ".join([", ".join(others[:-1]), others[-1]] if len(others) > 1 else others)
        changes.append(f"its {listed} changed")
    return f"stays on {_quoted(spec)}" + (f" ({'; '.join(changes)})" if changes else "")


@dataclass
class WaitingTask:
    element_id: str
    name: str
    instances: int


def _waiting_tasks(session: Session, actor: Actor, old: ProcessVersion) -> list[WaitingTask]:
    """The steps the version's instances wait on (or failed at), to choose which instances to move."""
    specs = runtime_of(session).spec_of(old).spec.task_specs
    counts: Counter[str] = Counter()
    for instance in _candidates(session, actor, old, "", None):
        element = instance.incident_element if instance.status == InstanceStatus.INCIDENT else instance.waiting_element
        if element:
            counts[element] += 1
    found = [WaitingTask(e, getattr(specs.get(e), "bpmn_name", None) or e, n) for e, n in counts.items()]
    return sorted(found, key=lambda t: (t.name, t.element_id))


@dataclass
class DryRun:
    old: ProcessVersion
    new: ProcessVersion
    waiting: list[WaitingTask]  # what the instances to move wait on, to choose from
    lines: list[PlanLine]


def dry_run(session: Session, actor: Actor, from_id: int, to_id: int, element_id: str = "") -> DryRun:
    """The Migrate page: the steps the version's instances wait on, and what moving them does (those waiting on
    `element_id`, or all)."""
    lines = plan(session, actor, from_id, to_id, element_id)
    old, new = _versions(session, from_id, to_id)
    return DryRun(old, new, _waiting_tasks(session, actor, old), lines)


def plan(
    session: Session, actor: Actor, from_id: int, to_id: int, element_id: str = "", ids: list[int] | None = None
) -> list[PlanLine]:
    """The dry run: per instance, in words, what happens to the steps it waits on (kept, changed, removed)."""
    require(actor, Permission.MIGRATE)
    old, new = _versions(session, from_id, to_id)
    lines = [_plan_line(session, i, new) for i in _candidates(session, actor, old, element_id, ids)]
    if actor.clinic_id is None:  # analysts see no invoice data: instances are named by their id only
        for line in lines:
            line.invoice_number = "—"
    return lines


@dataclass
class MigrationResult:
    moved: list[PlanLine]
    refused: list[PlanLine]


def migrate(
    factory: sessionmaker[Session], actor: Actor, from_id: int, to_id: int, element_id: str = "", ids=None
) -> MigrationResult:
    """Move each movable instance in its own transaction, audited; the others are refused with the reason."""
    with unit_of_work(factory, read_only=True) as session:
        lines = plan(session, actor, from_id, to_id, element_id, ids)
    moved, refused = [], []
    for line in lines:
        if not line.movable:
            refused.append(line)
            continue
        try:
            with unit_of_work(factory) as session:
                moved.append(_move(session, actor, line.instance_id, from_id, to_id))
        except DomainError as exc:
            line.outcome, line.detail = "refused", exc.message
            refused.append(line)
        except WorkflowException as exc:
            # The step's own message may carry the instance's data: analysts see where and what kind only.
            element = getattr(getattr(exc, "task_spec", None), "bpmn_name", None) or "a step"
            kind = getattr(exc, "error_type", type(exc).__name__)
            line.outcome, line.detail = "refused", f"'{element}' failed on the new version ({kind})"
            refused.append(line)
    with unit_of_work(factory) as session:
        _audit(session, actor, from_id, to_id, moved, refused)
    if actor.clinic_id is None:  # analysts see no invoice data: instances are named by their id only
        for line in moved + refused:
            line.invoice_number = "—"
    return MigrationResult(moved, refused)


def _audit(session: Session, actor: Actor, from_id: int, to_id: int, moved, refused) -> None:
    """Every migration is audited: the run (who, versions, counts) and each refused instance with its reason.
    Each moved instance has its own event from its move."""
    old, new = session.get(ProcessVersion, from_id), session.get(ProcessVersion, to_id)
    versions = {"process": new.process_id, "from_version": old.version, "to_version": new.version}
    session.add(
        AuditEvent(
            clinic_id=actor.clinic_id,
            actor_id=actor.user_id,
            action=AuditAction.PROCESS_MIGRATION,
            details=json.dumps(versions | {"moved": len(moved), "refused": len(refused)}),
        )
    )
    ids = [line.instance_id for line in refused]
    instances = {i.id: i for i in session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(ids)))}
    for line in refused:
        instance = instances[line.instance_id]
        session.add(
            AuditEvent(
                clinic_id=instance.clinic_id,
                invoice_id=instance.invoice_id,
                instance_id=instance.id,
                actor_id=actor.user_id,
                action=AuditAction.INSTANCE_MIGRATION_REFUSED,
                details=json.dumps(versions | {"detail": line.detail}),
            )
        )


def _move(session: Session, actor: Actor, instance_id: int, from_id: int, to_id: int) -> PlanLine:
    instance = session.get(ProcessInstance, instance_id)
    invoice = lifecycle.lock_instance(session, instance)
    new = session.get(ProcessVersion, to_id)
    line = _plan_line(session, instance, new, invoice.number)  # again, under the lock: it may have moved on
    if instance.process_version_id != from_id or not line.movable:
        raise Invalid({"instance": f"Instance {instance_id} changed meanwhile: {line.detail}."})
    lifecycle.move(lifecycle.context_for(session, actor, invoice, instance), new, line.detail)
    return line
