"""The timers table mirrors an instance's waiting timer events, so the worker finds what is due with plain SQL.

A timer's due time is ours, not SpiffWorkflow's: when a timer event starts waiting, its expression (e.g.
`clinic_setting("reminder_after")`) is evaluated and counted from when its step started waiting, by the action's
clock, and kept in the row. SpiffWorkflow would fire a timer by the wall clock at the end of any engine run
(refresh_timers), behind the table's back: the workflow's own due time is set to NEVER, and only the worker fires
a timer, at its word (lifecycle.fire_timer marks the event fired), so tests move the clock instead of sleeping.
Only the lifecycle module calls these, at the end of each transition of an instance.
"""

from __future__ import annotations

from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select

from engine.errors import Conflict
from engine.models import Timer, UserTask
from engine.vocabulary import TimerStatus
from engine.workflow.durations import BadDuration, due_at

from .context import ActionContext

NEVER = "9999-12-31T00:00:00+00:00"  # SpiffWorkflow's own due time of every timer the table keeps


def waiting_timer_tasks(workflow: BpmnWorkflow) -> list:
    """The workflow's timer events that wait now (boundary timers of waiting steps, intermediate timers)."""
    return [
        task
        for task in workflow.get_tasks(state=TaskState.WAITING)
        if isinstance(getattr(task.task_spec, "event_definition", None), TimerEventDefinition)
    ]


def timer_name(task) -> str:
    spec = task.task_spec
    return spec.bpmn_name or spec.bpmn_id or spec.name


def attached_step(task):
    """The step a boundary timer is attached to (its sibling under the boundary split), or None."""
    if not isinstance(task.task_spec, BoundaryEvent) or task.parent is None:
        return None
    return next((c for c in task.parent.children if not isinstance(c.task_spec, BoundaryEvent)), None)


_WAITING = select(Timer).where(Timer.instance_id == bindparam("instance_id"), Timer.status == TimerStatus.WAITING)


def sync_timers(ctx: ActionContext, workflow: BpmnWorkflow, waiting: list[UserTask]) -> None:
    """Rows for timer events that started waiting; rows whose event no longer waits are cancelled.

    `waiting`: the instance's ready task rows after this action (a boundary timer counts from when its step
    started waiting: its row's created_at, which a move to another version keeps).
    """
    instance = ctx.instance
    tasks = {str(t.id): t for t in waiting_timer_tasks(workflow)}
    if not tasks and instance.next_timer_at is None:
        return  # no timer before, none now: not one statement
    rows = []
    if instance.id is not None and instance.next_timer_at is not None:
        with ctx.session.no_autoflush:  # the instance is written once, at the commit (new timers are written now)
            rows = list(ctx.session.scalars(_WAITING, {"instance_id": instance.id}))
    for row in rows:
        if row.status == TimerStatus.WAITING and row.task_id not in tasks:
            row.status = TimerStatus.CANCELLED
    known = {r.task_id for r in rows}
    since = {r.element_id: r.created_at for r in waiting}
    new = []
    for task_id, task in tasks.items():
        if task_id in known:
            continue
        step = attached_step(task)
        start = since.get(step.task_spec.name, ctx.now) if step is not None else ctx.now
        due = _due(workflow, task, start)
        task._set_internal_data(event_value=NEVER)  # the row is the only trigger
        new.append(
            {
                "clinic_id": instance.clinic_id,
                "instance_id": instance.id,
                "invoice_id": instance.invoice_id,
                "task_id": task_id,
                "element_id": task.task_spec.name,
                "name": timer_name(task),
                "interrupting": bool(getattr(task.task_spec, "cancel_activity", True)),
                "attached_to": (step.task_spec.bpmn_name or step.task_spec.name) if step is not None else None,
                "status": TimerStatus.WAITING,
                "due_at": due,
                "next_attempt_at": due,
                "attempts": 0,
                "created_at": ctx.now,
            }
        )
    if new:  # one INSERT of them all, now (nothing reads their ids back; a later transition reads the rows)
        ctx.session.connection().execute(_INSERT, new)
    dues = [r.due_at for r in rows if r.status == TimerStatus.WAITING] + [t["due_at"] for t in new]
    instance.next_timer_at = min(dues) if dues else None


_INSERT = Timer.__table__.insert()


def _due(workflow: BpmnWorkflow, task, start: datetime) -> datetime:
    name = timer_name(task)
    try:
        value = workflow.script_engine.evaluate(task, task.task_spec.event_definition.expression)
        return due_at(value, start, f"the timer '{name}'")
    except BadDuration as exc:
        raise Conflict(
            f"The process's timer '{name}' could not start: {exc}. Nothing was saved; a clinic administrator can "
            "correct the clinic's settings, or a business analyst the diagram."
        ) from None
