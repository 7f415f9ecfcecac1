"""The user_tasks table mirrors an instance's ready and done user tasks, so queues and lists are plain SQL.

Only the lifecycle module calls these, at the end of each transition of an instance.
"""

from __future__ import annotations

import json

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.accounts.roles import lane_roles, who_words
from engine.models import ProcessInstance, UserTask
from engine.vocabulary import InstanceStatus, RequestStatus, Screen, UserTaskState
from engine.workflow.parsing import screen_of
from engine.workflow.paths import steps_ahead
from engine.workflow.runtime import ready_user_tasks

from .context import ActionContext
from .deciders import set_flag
from .telling import tell_deciders

_ROWS_OF = select(UserTask).where(UserTask.instance_id == bindparam("instance_id"))  # built once: every action


def rows_of(session: Session, instance_id: int) -> list[UserTask]:
    """All the instance's task rows (ready, done, cancelled)."""
    return list(session.scalars(_ROWS_OF, {"instance_id": instance_id}))


def record_done(ctx: ActionContext, task, values: dict, row: UserTask | None) -> UserTask:
    """The row of the task the actor just completed (a new row when the task was never ready in the table)."""
    if row is None:
        row = _row_for(ctx, task)
        ctx.session.add(row)
    row.state = UserTaskState.COMPLETED
    row.completed_at = ctx.now
    row.completed_by_id = ctx.actor_id
    row.form_data = json.dumps(values, default=str)
    return row


def sync_ready_rows(
    ctx: ActionContext, workflow: BpmnWorkflow, rows: list[UserTask] | None = None, done: UserTask | None = None
) -> list[UserTask]:
    """Rows for newly ready user tasks; rows whose task is no longer ready are cancelled. Returns the ready rows.

    `rows`: the instance's ready rows as the caller read them before the action (saves a query), or None.
    A step that is ready again under a new task (a move to another version) keeps when it started waiting.
    """
    ready_ids = {str(t.id): t for t in ready_user_tasks(workflow)}
    if rows is None:
        ctx.session.flush()
        query = select(UserTask).where(UserTask.instance_id == ctx.instance.id, UserTask.state == UserTaskState.READY)
        rows = list(ctx.session.scalars(query))
    rows = [r for r in rows if r is not done]
    done_by = _people_done(rows, done)
    if not rows and done is None and ready_ids:  # nothing carries who took part (e.g. a retry after an incident)
        done_by = _people_done_from_rows(ctx)
    ended = {}
    for row in rows:
        if row.task_id not in ready_ids:
            row.state = UserTaskState.CANCELLED
            ended[row.element_id] = row.created_at
    known = {r.task_id for r in rows} | ({done.task_id} if done is not None else set())
    waiting = [r for r in rows if r.state == UserTaskState.READY]
    for row in waiting:  # the same task under another version's step (a move): the row says what it is now
        _follow_spec(row, ready_ids[row.task_id].task_spec)
    for task_id, task in ready_ids.items():
        if task_id not in known:
            waiting.append(_row_for(ctx, task))
            waiting[-1].created_at = ended.get(task.task_spec.name, ctx.now)
            ctx.session.add(waiting[-1])
    new = [r for r in waiting if r.task_id not in known]
    for row in waiting:
        if row.done_by != done_by:
            row.done_by = done_by
    _new_decisions(ctx, new, ready_ids, ended)
    _set_waiting(ctx.instance, waiting)
    set_flag(ctx.session, ctx.instance, waiting)
    return waiting


def _new_decisions(ctx: ActionContext, new: list[UserTask], ready_ids: dict, ended: dict) -> None:
    """A decision step starts waiting: what lies ahead is stored on the request, and the deciders are told (not
    when the same step waits again, e.g. after a move)."""
    for row in new:
        if row.screen != Screen.FINANCIAL_APPROVAL:
            continue
        _record_approvals_ahead(ctx, ready_ids[row.task_id])
        if row.element_id not in ended:
            tell_deciders(ctx, row)


def _follow_spec(row: UserTask, spec) -> None:
    current = (spec.name, spec.bpmn_name or spec.name, spec.lane, ",".join(lane_roles(spec.lane)), screen_of(spec))
    if (row.element_id, row.name, row.lane, row.roles, row.screen) != current:
        row.element_id, row.name, row.lane, row.roles, row.screen = current


def _record_approvals_ahead(ctx: ActionContext, task) -> None:
    """A request starts waiting on a decision: store how many decisions it needs and who takes those ahead, as the
    diagram's gateways say on the instance's data (engine.workflow.paths)."""
    request = ctx.request()
    if request is None or request.status != RequestStatus.REQUESTED:
        return
    loaded = ctx.runtime.spec_of(ctx.instance.version)
    path = steps_ahead(loaded, task.task_spec, task.data, ctx.runtime.evaluate_quietly)
    if request.approvals_needed is None:
        request.approvals_needed = len(path)
    request.approvals_left = len(path)
    request.approval_path = ", then ".join(who_words(spec.lane) for spec in path)[:500]


def _people_done(rows: list[UserTask], done: UserTask | None) -> str:
    """Everyone who did a step of the instance so far: carried by its waiting rows, plus who just completed one."""
    people = {int(i) for r in rows + ([done] if done is not None else []) for i in (r.done_by or "").split(",") if i}
    if done is not None and done.completed_by_id is not None:
        people.add(done.completed_by_id)
    return "".join(f",{i}" for i in sorted(people)) + "," if people else ""


def _people_done_from_rows(ctx: ActionContext) -> str:
    """Who took part, read from the instance's completed rows (the index of completers)."""
    ctx.session.flush()
    people = ctx.session.scalars(
        select(UserTask.completed_by_id)
        .where(UserTask.instance_id == ctx.instance.id, UserTask.completed_by_id.is_not(None))
        .distinct()
    ).all()
    return "".join(f",{i}" for i in sorted(people)) + "," if people else ""


def _set_waiting(instance: ProcessInstance, ready_rows: list[UserTask]) -> None:
    """Copy what the instance waits for onto it, so the monitoring lists are plain indexed SQL."""
    ready_rows = sorted(ready_rows, key=lambda r: r.created_at)
    if not ready_rows or instance.status != InstanceStatus.RUNNING:
        instance.waiting_element = instance.waiting_task = instance.waiting_roles = instance.waiting_since = None
        return
    instance.waiting_element = ready_rows[0].element_id
    instance.waiting_task = "; ".join(r.name for r in ready_rows)
    instance.waiting_roles = ",".join(dict.fromkeys(role for r in ready_rows for role in r.roles.split(",")))
    instance.waiting_since = ready_rows[0].created_at


def _row_for(ctx: ActionContext, task) -> UserTask:
    spec = task.task_spec
    return UserTask(
        instance_id=ctx.instance.id,
        clinic_id=ctx.instance.clinic_id,
        invoice_id=ctx.instance.invoice_id,
        task_id=str(task.id),
        element_id=spec.name,
        name=spec.bpmn_name or spec.name,
        lane=spec.lane,
        roles=",".join(lane_roles(spec.lane)),
        screen=screen_of(spec),
        state=UserTaskState.READY,
        created_at=ctx.now,
    )
