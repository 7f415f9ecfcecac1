"""Every transition of a process instance, and the invoice row lock that orders them: the one home.

start -> complete_step (advance; a failing step records an incident) -> retry | terminate | move to a
version. Each transition sets the instance's status, completion time, incident fields, stored state and
`updated_at`, and brings its task rows in line, here and nowhere else. Timers, escalation and undo will be
transitions here too.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.accounts.users import Actor
from engine.errors import Conflict
from engine.models import CancellationRequest, Invoice, ProcessInstance, ProcessVersion, Timer, UserTask
from engine.vocabulary import AuditAction, InstanceStatus, Outcome, TimerStatus
from engine.workflow.catch_events import CatchEvent
from engine.workflow.forms import FormDef
from engine.workflow.parsing import LoadedProcess
from engine.workflow.runtime import runtime_of

from .context import ActionContext, invoice_facts
from .operations import terminate_request
from .task_rows import record_done, sync_ready_rows
from .telling import tell_administrators
from .timers import sync_timers, waiting_timer_tasks

# ---- the lock ------------------------------------------------------------------------------------------------


# The lock's reads, built once (every action takes one): by id, by the clinic's number, or a request's invoice.
# The row is read again under the lock even when the session already holds it (e.g. joined to a request).
_LOCK = select(Invoice).with_for_update(of=Invoice).execution_options(populate_existing=True)
_LOCK_BY_ID = _LOCK.where(Invoice.id == bindparam("invoice_id"))
_LOCK_BY_NUMBER = _LOCK.where(Invoice.clinic_id == bindparam("clinic_id"), Invoice.number == bindparam("number"))
_LOCK_OF_REQUEST = _LOCK.where(
    Invoice.id
    == select(CancellationRequest.invoice_id).where(CancellationRequest.id == bindparam("request_id")).scalar_subquery()
)


def lock_invoice(
    session: Session,
    *,
    invoice_id: int | None = None,
    clinic_id: int | None = None,
    number: str | None = None,
    request_id: int | None = None,
) -> Invoice | None:
    """The invoice, locked for this unit of work: every change to its cancellation takes this lock first. Named
    by its id, by its clinic and number, or as the invoice of a request (None when there is none).

    PostgreSQL locks the row (FOR UPDATE); SQLite's BEGIN IMMEDIATE already holds the database's write lock.
    """
    if invoice_id is not None:
        return session.scalar(_LOCK_BY_ID, {"invoice_id": invoice_id})
    if request_id is not None:
        return session.scalar(_LOCK_OF_REQUEST, {"request_id": request_id})
    return session.scalar(_LOCK_BY_NUMBER, {"clinic_id": clinic_id, "number": number})


def lock_instance(session: Session, instance: ProcessInstance) -> Invoice:
    """Lock the instance's invoice, then read the instance again: it may have moved on meanwhile."""
    invoice = lock_invoice(session, invoice_id=instance.invoice_id)
    session.refresh(instance)
    return invoice


def context_for(session: Session, actor: Actor | None, invoice: Invoice, instance: ProcessInstance) -> ActionContext:
    """The context of an action by `actor` (None: the system, e.g. a timer)."""
    if actor is None:
        return ActionContext(session, runtime_of(session), None, invoice, instance)
    names = (actor.username, actor.full_name) if actor.user_id else None  # user id 0: the command line
    return ActionContext(session, runtime_of(session), actor.user_id, invoice, instance, actor_names=names)


def load(ctx: ActionContext, version: ProcessVersion | None = None) -> BpmnWorkflow:
    """The instance's workflow; its scripts act for this action."""
    version = version or ctx.instance.version
    return ctx.runtime.load_workflow(ctx.instance.state_json, version, ctx)


# ---- transitions ---------------------------------------------------------------------------------------------


def start(
    session: Session, actor: Actor, invoice: Invoice, version: ProcessVersion, loaded: LoadedProcess, seed: dict
) -> tuple[ActionContext, BpmnWorkflow]:
    """A new running instance of `version` for the (locked) invoice, run up to its first user task."""
    instance = ProcessInstance(
        clinic_id=invoice.clinic_id,
        invoice_id=invoice.id,
        process_version_id=version.id,
        business_key=f"{invoice.clinic_id}:{invoice.number}",
        status=InstanceStatus.RUNNING,
        state_json="{}",
        started_by_id=actor.user_id,
        # Named, though empty: the first step's status change then finds them unchanged and adds no UPDATE.
        completed_at=None,
        incident_element=None,
        incident_message=None,
        incident_at=None,
    )
    session.add(instance)
    try:
        session.flush()  # the database allows one active instance per invoice: a simultaneous start fails here
    except IntegrityError:
        raise Conflict(f"Invoice {invoice.number} already has a cancellation in progress.") from None
    ctx = context_for(session, actor, invoice, instance)
    workflow = ctx.runtime.new_workflow(loaded, seed, ctx)
    try:
        workflow.do_engine_steps()
    except WorkflowException as exc:
        _reraise_refusal(ctx)
        # Nothing of the person's is saved yet: refuse the action (rolled back) rather than keep a half start.
        element = getattr(getattr(exc, "task_spec", None), "bpmn_name", None) or "a step"
        kind = getattr(exc, "error_type", type(exc).__name__)
        raise Conflict(
            f"The cancellation could not start: '{element}' of the process failed ({kind}). Nothing was saved; "
            "tell the clinic administrator, who can ask a business analyst to fix the process."
        ) from None
    return ctx, workflow


def complete_step(
    ctx: ActionContext,
    workflow: BpmnWorkflow,
    task,
    form: FormDef,
    values: dict,
    row: UserTask | None,
    ready: list[UserTask] | None,
) -> bool:
    """The actor completed a user task with validated values; the workflow goes on to its next wait.

    A step that fails after it keeps the user's SAVE and records an incident: returns False then; a step that
    refuses the action (an operation's refusal, e.g. a blocked invoice) raises it and nothing is kept.
    """
    task.set_data(**invoice_facts(ctx.invoice), **values)
    task.run()
    shown = [[f.label, f.shown(values.get(f.id), ctx.invoice.clinic.locale)] for f in form.fields]
    ctx.audit(AuditAction.TASK_COMPLETED, task=form.title, element_id=form.task_id, values=shown)
    done = record_done(ctx, task, values, row)
    went_through = _advance(ctx, workflow)
    _save(ctx, workflow, ready, done)
    return went_through


def send_event(
    ctx: ActionContext, workflow: BpmnWorkflow, event: CatchEvent, form: FormDef, values: dict, ready: list[UserTask]
) -> bool:
    """A person sends a diagram's event with a form to the step it is attached to (e.g. Withdraw Request): the
    interrupting boundary event takes the flow; its values land in the task data under the event's result
    variable. Like complete_step, a failing step after it is an incident (False)."""
    payload = {"payload": dict(values), "result_var": event.result_var}
    workflow.send_event(BpmnEvent(MessageEventDefinition(event.name), payload=payload))
    shown = [[f.label, f.shown(values.get(f.id), ctx.invoice.clinic.locale)] for f in form.fields]
    ctx.audit(AuditAction.TASK_COMPLETED, task=form.title, element_id=event.element_id, values=shown)
    went_through = _advance(ctx, workflow)
    _save(ctx, workflow, ready)
    return went_through


def fire_timer(ctx: ActionContext, timer: Timer) -> bool:
    """A due timer fires, at the worker's word (or a clinic administrator's Fire now): the workflow goes on from
    its timer event (a reminder beside the waiting step, an escalation instead of it). The timer is marked fired
    in the same transaction: it fires once. A timer whose event no longer waits is cancelled instead (False).
    Like complete_step, a failing step after it is an incident."""
    workflow = load(ctx)
    task = next((t for t in waiting_timer_tasks(workflow) if str(t.id) == timer.task_id), None)
    if task is None:
        timer.status = TimerStatus.CANCELLED
        return False
    timer.status, timer.fired_at = TimerStatus.FIRED, ctx.now
    timer.attempts += 1
    timer.last_error = None
    ctx.audit(AuditAction.TIMER_FIRED, timer=timer.name, element_id=timer.element_id, due=timer.due_at)
    task._set_internal_data(event_fired=True)
    workflow.refresh_timers()
    went_through = _advance(ctx, workflow) and _advance(ctx, workflow)  # the second pass ends an interrupted step
    _save(ctx, workflow)
    return went_through


def move_timer(ctx: ActionContext, timer: Timer, due) -> None:
    """A clinic administrator's Change due time (the row is the timer's only trigger: the workflow is not touched)."""
    ctx.audit(AuditAction.TIMER_DUE_CHANGED, timer=timer.name, element_id=timer.element_id, before=timer.due_at,
              after=due)  # fmt: skip
    timer.due_at = timer.next_attempt_at = due
    dues = ctx.session.scalars(
        select(Timer.due_at).where(Timer.instance_id == ctx.instance.id, Timer.status == TimerStatus.WAITING)
    ).all()
    ctx.instance.next_timer_at = min(dues)
    ctx.instance.updated_at = ctx.now


def retry(ctx: ActionContext) -> bool:
    """Run the failed element again. True when it went through; False keeps the incident with the new error."""
    previous = ctx.instance.incident_element
    failed = list(
        ctx.session.scalars(
            select(Timer).where(Timer.instance_id == ctx.instance.id, Timer.status == TimerStatus.FAILED)
        )
    )
    if failed:  # the incident is a timer that could not fire: fire it now (raises again: nothing is kept)
        _set_status(ctx, InstanceStatus.RUNNING)
        went_through = True
        for timer in failed:
            timer.status, timer.next_attempt_at = TimerStatus.WAITING, ctx.now
            went_through = fire_timer(ctx, timer) and went_through
        if went_through:
            ctx.audit(AuditAction.INSTANCE_RETRIED, element=previous)
        else:
            element, message = ctx.instance.incident_element, ctx.instance.incident_message
            ctx.audit(AuditAction.INSTANCE_RETRY_FAILED, element=element or previous, message=message)
        return went_through
    workflow = load(ctx)
    try:
        for task in workflow.get_tasks(state=TaskState.ERROR):
            task.set_data(**invoice_facts(ctx.invoice))
            task.run()
    except WorkflowException as exc:
        _reraise_refusal(ctx)
        went_through = _record_incident(ctx, exc)
    else:
        went_through = _advance(ctx, workflow)
    _save(ctx, workflow)
    if went_through:
        ctx.audit(AuditAction.INSTANCE_RETRIED, element=previous)
    else:
        # Steps that went through before the failure stay done, in the state and in their effects alike.
        element, message = ctx.instance.incident_element, ctx.instance.incident_message
        ctx.audit(AuditAction.INSTANCE_RETRY_FAILED, element=element, message=message)
    return went_through


def terminate(ctx: ActionContext, reason: str) -> None:
    """End the instance: its ready tasks leave every queue, an open request becomes Terminated."""
    terminate_request(ctx, reason)
    workflow = load(ctx)
    workflow.cancel()
    _set_status(ctx, InstanceStatus.TERMINATED)
    ctx.instance.ended_reason = reason
    _save(ctx, workflow)
    ctx.audit(AuditAction.INSTANCE_TERMINATED, reason=reason)


def move(ctx: ActionContext, new: ProcessVersion, detail: str) -> None:
    """Move the instance to a newer version; a running one goes on there at once (an incident waits for retry).

    Tasks line up by element id. A step that fails on the new version raises: the caller's unit of work rolls
    the move back.
    """
    old = ctx.instance.version
    workflow = load(ctx)
    target = ctx.runtime.spec_of(new)
    diff, _ = diff_workflow(ctx.runtime.serializer.registry, workflow, target.spec, target.subprocess_specs)
    migrate_workflow(diff, workflow, target.spec, reset_mask=TaskState.READY | TaskState.WAITING | TaskState.ERROR)
    _rearm_boundary_events(workflow)
    if ctx.instance.status == InstanceStatus.RUNNING:
        workflow.do_engine_steps()
    ctx.instance.process_version_id = new.id
    ctx.instance.version = new
    _save(ctx, workflow)
    ctx.audit(AuditAction.INSTANCE_MIGRATED, from_version=old.version, to_version=new.version, detail=detail)


def _rearm_boundary_events(workflow: BpmnWorkflow) -> None:
    """A waiting step whose new version attaches other boundary events (e.g. timers) gets them: its finished
    boundary split runs again (migrate_workflow keeps the old split's children). The step is ready again under a
    new task; its row keeps when it started waiting (task_rows), and so its timers count from then."""
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)):
        split = task.parent
        if split is None or split.id not in workflow.tasks or not isinstance(split.task_spec, BoundaryEventSplit):
            continue
        if {c.task_spec for c in split.children} != set(split.task_spec.outputs):
            split.reset_branch(None)


# ---- the parts every transition shares -----------------------------------------------------------------------


def _advance(ctx: ActionContext, workflow: BpmnWorkflow) -> bool:
    """Run the engine to the next wait. A failing step becomes an incident (False); else running or completed."""
    try:
        workflow.do_engine_steps()
    except WorkflowException as exc:
        _reraise_refusal(ctx)
        return _record_incident(ctx, exc)
    _set_status(ctx, InstanceStatus.COMPLETED if workflow.is_completed() else InstanceStatus.RUNNING)
    return True


def _reraise_refusal(ctx: ActionContext) -> None:
    if ctx.refusal is not None:
        raise ctx.refusal from None


def _record_incident(ctx: ActionContext, exc: WorkflowException) -> bool:
    instance = ctx.instance
    instance.status = InstanceStatus.INCIDENT
    instance.incident_element = getattr(getattr(exc, "task_spec", None), "name", instance.incident_element)
    instance.incident_message = str(exc)
    instance.incident_at = ctx.now
    tell_administrators(ctx, instance.incident_element, instance.incident_message)
    return False


def _set_status(ctx: ActionContext, status: InstanceStatus) -> None:
    instance = ctx.instance
    instance.status = status
    ended = status in (InstanceStatus.COMPLETED, InstanceStatus.TERMINATED)
    instance.completed_at = ctx.now if ended else None
    if status == InstanceStatus.TERMINATED:
        instance.outcome = Outcome.TERMINATED
    elif status == InstanceStatus.COMPLETED and instance.outcome is None:
        instance.outcome = Outcome.COMPLETED  # an end of the diagram no operation named (operations set theirs)
    if status != InstanceStatus.TERMINATED:  # a terminated instance keeps what had stopped it
        instance.incident_element = instance.incident_message = instance.incident_at = None


def _save(
    ctx: ActionContext, workflow: BpmnWorkflow, ready: list[UserTask] | None = None, done: UserTask | None = None
) -> None:
    """Every transition ends here: the stored state, the time, and the task rows."""
    waiting = ctx.waiting = sync_ready_rows(ctx, workflow, ready, done)
    sync_timers(ctx, workflow, waiting)  # before the dump: it gives the workflow's timers their due times
    ctx.instance.state_json = ctx.runtime.dump_workflow(workflow)
    ctx.instance.updated_at = ctx.now
