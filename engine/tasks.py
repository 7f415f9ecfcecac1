"""User task specs of a process, and the user_tasks table that mirrors an instance's ready and done tasks."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ProcessInstance, UserTask
from .processes import LoadedProcess
from .roles import lane_roles
from .runtime import new_workflow, ready_user_tasks


def screen_of(spec) -> str:
    """Where a user task is done: the invoice screen (default) or e.g. `financial_approval`."""
    return (getattr(spec, "extensions", None) or {}).get("screen", "invoice")


def user_task_specs(loaded: LoadedProcess) -> list:
    return [s for s in loaded.spec.task_specs.values() if getattr(s, "manual", False)]


@lru_cache(maxsize=64)
def _first_user_task_name(loaded: LoadedProcess) -> str:
    workflow = new_workflow(loaded, {})
    workflow.do_engine_steps()
    ready = ready_user_tasks(workflow)
    if not ready:
        raise ValueError(f"process {loaded.process_id} reaches no user task from its start")
    return ready[0].task_spec.name


def first_user_task(loaded: LoadedProcess):
    """The user task a new instance of this version waits on first: its form starts the cancellation."""
    return loaded.spec.task_specs[_first_user_task_name(loaded)]


def sync_task_rows(
    session: Session,
    workflow: BpmnWorkflow,
    instance: ProcessInstance,
    done_task,
    actor_id: int,
    values: dict,
    done_row: UserTask | None,
    now: datetime,
    ready_rows: list[UserTask] | None = None,
) -> None:
    """Record the completed task and bring the ready rows in line with the workflow's ready user tasks.

    `ready_rows`: the instance's ready rows as the caller read them before the action (saves a query).
    """
    if done_row is None:
        done_row = _row_for(instance, done_task, now)
        session.add(done_row)
    done_row.state = "completed"
    done_row.completed_at = now
    done_row.completed_by_id = actor_id
    done_row.form_data = json.dumps(values, default=str)
    others = None if ready_rows is None else [r for r in ready_rows if r is not done_row]
    sync_ready_rows(session, workflow, instance, now, others, done_row)


def sync_ready_rows(
    session: Session,
    workflow: BpmnWorkflow,
    instance: ProcessInstance,
    now: datetime,
    rows: list[UserTask] | None = None,
    done_row: UserTask | None = None,
) -> None:
    """Rows for newly ready user tasks; rows whose task is no longer ready are cancelled."""
    ready_ids = {str(t.id): t for t in ready_user_tasks(workflow)}
    if rows is None:
        session.flush()
        query = select(UserTask).where(UserTask.instance_id == instance.id, UserTask.state == "ready")
        rows = [r for r in session.scalars(query) if r is not done_row]
    for row in rows:
        if row.task_id not in ready_ids:
            row.state = "cancelled"
    known = {r.task_id for r in rows} | ({done_row.task_id} if done_row is not None else set())
    waiting = [r for r in rows if r.state == "ready"]
    for task_id, task in ready_ids.items():
        if task_id not in known:
            waiting.append(_row_for(instance, task, now))
            session.add(waiting[-1])
    set_waiting(instance, waiting)


def set_waiting(instance: ProcessInstance, ready_rows: list[UserTask]) -> None:
    """Copy what the instance waits for onto it, so the monitoring lists are plain indexed SQL."""
    ready_rows = sorted(ready_rows, key=lambda r: r.created_at)
    if not ready_rows or instance.status not in ("running",):
        instance.waiting_element = instance.waiting_task = instance.waiting_roles = instance.waiting_since = None
        return
    instance.waiting_element = ready_rows[0].element_id
    instance.waiting_task = "; ".join(r.name for r in ready_rows)
    instance.waiting_roles = ",".join(dict.fromkeys(role for r in ready_rows for role in r.roles.split(",")))
    instance.waiting_since = ready_rows[0].created_at


def _row_for(instance: ProcessInstance, task, now: datetime) -> UserTask:
    spec = task.task_spec
    return UserTask(
        instance_id=instance.id,
        clinic_id=instance.clinic_id,
        invoice_id=instance.invoice_id,
        task_id=str(task.id),
        element_id=spec.name,
        name=spec.bpmn_name or spec.name,
        lane=spec.lane,
        roles=",".join(lane_roles(spec.lane)),
        screen=screen_of(spec),
        state="ready",
        created_at=now,
    )
