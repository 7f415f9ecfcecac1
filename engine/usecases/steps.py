"""Completing a user task of an invoice's cancellation: who may, whether it is open now, and the form's values.

Both the invoice screen (cancellation) and Financial Approval (approval) complete their steps here; the
instance itself changes only through instances.lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts.roles import ROLES, lane_roles, who_words
from engine.accounts.users import Actor
from engine.errors import Conflict, Forbidden, NotFound
from engine.instances import lifecycle
from engine.instances.context import ActionContext, invoice_facts
from engine.instances.deciders import SEPARATED_SCREENS
from engine.instances.task_rows import rows_of
from engine.models import Invoice, ProcessInstance, User, UserTask
from engine.reads.offers import active_instance, clinic_process, clinic_processes, not_found, process_for, waiting_words
from engine.vocabulary import InstanceStatus, InvoiceStatus, RequestStatus, Screen, UserTaskState
from engine.workflow.catch_events import CatchEvent
from engine.workflow.forms import FormDef, validate
from engine.workflow.parsing import LoadedProcess, screen_of
from engine.workflow.runtime import ready_user_tasks, runtime_of

from .blockers import judge


@dataclass(frozen=True)
class Outcome:
    """What a SAVE did: the message for the person, whether an incident stopped the next step, and the invoice
    and instance it acted on (so callers need not read them again)."""

    message: str
    invoice: Invoice
    instance: ProcessInstance
    incident: bool = False


@dataclass(frozen=True)
class StepInput:
    """What a person submitted: which step, on which screen, and the form's values as sent."""

    element_id: str
    submitted: dict
    screen: Screen = Screen.INVOICE


SAVED = "Saved."
INCIDENT = "Your input was saved, but the next step failed; the follow-up is with the clinic administrator."


def complete_task(
    session: Session,
    actor: Actor,
    number: str,
    element_id: str,
    submitted: dict,
    screen: Screen = Screen.INVOICE,
) -> Outcome:
    """Complete a user task of the invoice's cancellation (starting it when this is its first task)."""
    return complete_on(session, actor, locked_invoice(session, actor, number), StepInput(element_id, submitted, screen))


def locked_invoice(session: Session, actor: Actor, number: str) -> Invoice:
    """The invoice of the actor's clinic, locked for this action (NotFound for another clinic's)."""
    invoice = lifecycle.lock_invoice(session, clinic_id=actor.clinic_id, number=number)
    if invoice is None:
        raise not_found(actor, number)
    return invoice


def complete_on(session: Session, actor: Actor, invoice: Invoice, step: StepInput) -> Outcome:
    """complete_task on an invoice the caller has locked."""
    instance = active_instance(session, invoice)
    if instance is None:
        return _start(session, actor, invoice, step)
    return continue_task(lifecycle.context_for(session, actor, invoice, instance), actor, step)


def check_role(actor: Actor, spec) -> None:
    roles = lane_roles(spec.lane)
    if not actor.has_any(roles):
        who = " or ".join(ROLES[r] for r in roles)
        raise Forbidden(f"{spec.bpmn_name or spec.name} is done by {who}; your roles are {actor.role_names}.")


def check_separation_of_duties(
    session: Session, actor: Actor, instance: ProcessInstance, rows: list[UserTask] | None = None
) -> None:
    """Nobody decides a request they made, and nobody decides twice on one request (instances.deciders counts
    the same people out when it flags a step that no one may decide)."""
    if rows is None:
        rows = rows_of(session, instance.id)
    mine = [r for r in rows if r.state == UserTaskState.COMPLETED and r.completed_by_id == actor.user_id]
    if any(t.screen != Screen.FINANCIAL_APPROVAL for t in mine):
        raise Forbidden("You made this cancellation request, so you cannot decide it: another approver must.")
    if mine:
        raise Forbidden("You already decided on this request: another approver must decide this step.")


def _user_task(loaded: LoadedProcess, element_id: str):
    spec = loaded.spec.task_specs.get(element_id)
    if spec is None or not getattr(spec, "manual", False):
        raise NotFound(f"The process has no step named {element_id}.")
    return spec


def _start(session: Session, actor: Actor, invoice: Invoice, step: StepInput) -> Outcome:
    found = process_for(clinic_processes(session, actor), runtime_of(session), invoice)
    if invoice.status == InvoiceStatus.CANCELLED and (found is None or step.element_id not in found[1].spec.task_specs):
        then = " Undo Cancel opens it again." if found is not None else " Nothing more can be done with it."
        raise Conflict(f"Invoice {invoice.number} is already cancelled.{then}")
    version, loaded = found or clinic_process(session, actor)
    spec = _user_task(loaded, step.element_id)
    check_role(actor, spec)
    start = runtime_of(session).first_user_task(loaded)
    if step.element_id != start.name or screen_of(start) != step.screen:
        name = spec.bpmn_name or step.element_id
        raise Conflict(f"{name} is not possible yet: start with {start.bpmn_name or start.name}.")
    form = loaded.form(start.name)
    seed = invoice_facts(invoice)
    values = validate(form, step.submitted, seed, actor.locale)
    was = invoice.status
    ctx, workflow = lifecycle.start(session, actor, invoice, version, loaded, seed)
    task = next(t for t in ready_user_tasks(workflow) if t.task_spec.name == step.element_id)
    went_through = lifecycle.complete_step(ctx, workflow, task, form, values, None, [])
    _judge_if_reopened(ctx)
    return _outcome(ctx, went_through, was, form, values, deciding=False)


def continue_task(ctx: ActionContext, actor: Actor, step: StepInput, rows: list[UserTask] | None = None) -> Outcome:
    """Complete a ready task of the context's instance; the caller has locked the invoice (and may pass the
    instance's task rows it read under the lock)."""
    session, instance = ctx.session, ctx.instance
    loaded = ctx.runtime.spec_of(instance.version)
    event = loaded.catch_event(step.element_id)
    if event is not None:
        return send_event(ctx, actor, loaded, event, step.submitted)
    check_role(actor, _user_task(loaded, step.element_id))
    if rows is None:
        rows = rows_of(session, instance.id)
    ready = [r for r in rows if r.state == UserTaskState.READY]
    row = next((r for r in ready if r.element_id == step.element_id and r.screen == step.screen), None)
    if row is None:
        raise Conflict(_not_open_message(ctx, loaded, step.element_id, ready))
    if instance.status == InstanceStatus.INCIDENT:
        raise Conflict("This cancellation is stopped by an incident: the administrator must resolve it first.")
    if row.screen in SEPARATED_SCREENS:
        check_separation_of_duties(session, actor, instance, rows)
    workflow = lifecycle.load(ctx)
    task = workflow.get_task_from_id(UUID(row.task_id))
    form = loaded.form(step.element_id)
    values = validate(form, step.submitted, task.data, actor.locale)
    was = ctx.invoice.status
    went_through = lifecycle.complete_step(ctx, workflow, task, form, values, row, ready)
    _judge_if_reopened(ctx)
    return _outcome(ctx, went_through, was, form, values, deciding=row.screen == Screen.FINANCIAL_APPROVAL)


def send_event(ctx: ActionContext, actor: Actor, loaded: LoadedProcess, event: CatchEvent, submitted: dict) -> Outcome:
    """Send a diagram's event with a form (e.g. Withdraw Request) to the step it interrupts: only while that step
    waits, only by the person it is offered to (the requester), with the form's values validated."""
    instance = ctx.instance
    ready = list(
        ctx.session.scalars(
            select(UserTask).where(UserTask.instance_id == instance.id, UserTask.state == UserTaskState.READY)
        )
    )
    if instance.status == InstanceStatus.INCIDENT:
        raise Conflict("This cancellation is stopped by an incident: the administrator must resolve it first.")
    if event.attached_to not in {r.element_id for r in ready}:
        step = loaded.task_spec(event.attached_to)
        raise Conflict(
            f"{event.name} is possible only while the request waits for {step.bpmn_name or step.name}; it now "
            f"waits for {waiting_words(ready)}."
        )
    if actor.user_id != instance.started_by_id:
        who = ctx.session.get(User, instance.started_by_id)
        raise Forbidden(f"{event.name} is for the person who made the request, {who.full_name}: ask them.")
    form = loaded.form(event.element_id)
    values = validate(form, submitted, {}, actor.locale)
    workflow = lifecycle.load(ctx)
    was = ctx.invoice.status
    went_through = lifecycle.send_event(ctx, workflow, event, form, values, ready)
    return _outcome(ctx, went_through, was, form, values, deciding=False)


def _outcome(ctx: ActionContext, went_through: bool, was: str, form: FormDef, values: dict, deciding: bool) -> Outcome:
    message = _what_happened(ctx, was, form.fields if deciding else (), values) if went_through else INCIDENT
    return Outcome(message, ctx.invoice, ctx.instance, not went_through)


# What the chosen option of a decision step means, for the message after SAVE (other options are named as such).
DECIDED = {"approve": "Approved", "reject": "Rejected"}


def _what_happened(ctx: ActionContext, was: str, decided: tuple, values: dict) -> str:
    """After a SAVE: what it did and what follows, in the diagram's words ("Approved. Next: Second approval
    (Clinic administrator)."). `decided`: the fields of a decision step (whose chosen options say what was done)."""
    invoice, request = ctx.invoice, ctx.known_request
    if invoice.status != was:
        now = "cancelled" if invoice.status == InvoiceStatus.CANCELLED else "is open again"
        done = f"Invoice {invoice.number} {now}"
    elif request is not None and request.status == RequestStatus.WITHDRAWN:
        done = f"Request withdrawn: invoice {invoice.number} stays open"
    else:
        chosen = [o for f in decided for o in f.options if values.get(f.id) == o.id]
        done = ", ".join(DECIDED.get(o.id, o.name) for o in chosen) if chosen else SAVED.rstrip(".")
        if request is not None and request.status == RequestStatus.REJECTED:
            done += f": invoice {invoice.number} stays open"
        elif not chosen and request is not None and request.status == RequestStatus.REQUESTED:
            done = "Request saved"
    after = [f"{r.name} ({who_words(r.lane)})" for r in ctx.waiting or []]
    message = f"{done}. Next: {'; '.join(after)}." if after else f"{done}."
    if request is not None and request.status == RequestStatus.REQUESTED and (request.approvals_needed or 0) > 1:
        if request.approvals_left == request.approvals_needed:  # nothing decided yet: say it from the start
            message += f" It needs {request.approvals_needed} approvals: {request.approval_path}."
    return message


def _judge_if_reopened(ctx: ActionContext) -> None:
    """An invoice opened again (Undo Cancel) gets the blockers' verdict of today's table, in the same action."""
    if ctx.invoice.status == InvoiceStatus.OPEN and ctx.invoice.blockers_version_id is None:
        judge(ctx.session, [ctx.invoice])


def _not_open_message(ctx: ActionContext, loaded: LoadedProcess, element_id: str, ready: list[UserTask]) -> str:
    session, invoice, instance = ctx.session, ctx.invoice, ctx.instance
    if element_id == ctx.runtime.first_user_task(loaded).name:
        status = (invoice.approval_status or instance.status).capitalize()
        return (
            f"Invoice {invoice.number} already has an open cancellation ({status}) that waits for "
            f"{waiting_words(ready)}: a new one is possible once it is decided."
        )
    done = session.scalar(
        select(UserTask)
        .where(
            UserTask.instance_id == instance.id,
            UserTask.element_id == element_id,
            UserTask.state == UserTaskState.COMPLETED,
        )
        .order_by(UserTask.completed_at.desc())
    )
    if done is not None:
        who = session.get(User, done.completed_by_id)
        when = done.completed_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"{done.name} was already done by {who.full_name} ({who.username}) at {when}: reload to see it."
    return f"This step is not open now: the cancellation waits for {waiting_words(ready)}."
