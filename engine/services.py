"""Use cases of the cancellation lifecycle: which actions an invoice offers, and completing a user task.

Every function takes the session of the caller's unit of work: the workflow state, the task rows, the invoice
and request status and the audit event of one user action commit together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from SpiffWorkflow.exceptions import WorkflowException
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .accounts import Actor
from .errors import Conflict, Forbidden, NotFound
from .forms import FormDef, describe_form, validate, with_aliases
from .models import (
    ACTIVE_INSTANCE_STATUSES,
    AuditEvent,
    Invoice,
    ProcessInstance,
    ProcessVersion,
    User,
    UserTask,
)
from .operations import ActionContext
from .processes import LoadedProcess, latest_version
from .roles import ROLES, lane_roles
from .runtime import (
    dump_workflow,
    load_workflow,
    new_workflow,
    operations_bound_to,
    ready_user_tasks,
    spec_of,
)
from .tasks import first_user_task, screen_of, sync_task_rows, user_task_specs

APPROVAL_SCREEN = "financial_approval"


@dataclass(frozen=True)
class Action:
    """A user task the invoice screen offers: enabled, or disabled with the reason why."""

    element_id: str
    name: str
    enabled: bool
    reason: str = ""


@dataclass(frozen=True)
class Outcome:
    message: str
    incident: bool = False


def get_invoice(session: Session, actor: Actor, number: str, lock: bool = False) -> Invoice:
    """The invoice of the actor's clinic; another clinic's invoice is simply not found."""
    query = select(Invoice).where(Invoice.clinic_id == actor.clinic_id, Invoice.number == number)
    if lock:
        query = query.with_for_update(of=Invoice)
    invoice = session.scalar(query)
    if invoice is None:
        raise NotFound(f"Invoice {number} was not found in {actor.clinic_name}: check the number and search again.")
    return invoice


def active_instance(session: Session, invoice: Invoice) -> ProcessInstance | None:
    return session.scalar(
        select(ProcessInstance).where(
            ProcessInstance.invoice_id == invoice.id, ProcessInstance.status.in_(ACTIVE_INSTANCE_STATUSES)
        )
    )


def clinic_process(session: Session, actor: Actor) -> tuple[ProcessVersion, LoadedProcess]:
    """The latest deployed version of the process the actor's clinic runs."""
    version = latest_version(session, actor.process_id)
    if version is None:
        raise Conflict("No cancellation process is deployed: ask an administrator to start the app with processes/.")
    return version, spec_of(version)


def _ready_rows(session: Session, instance: ProcessInstance) -> list[UserTask]:
    return list(session.scalars(select(UserTask).where(UserTask.instance_id == instance.id, UserTask.state == "ready")))


def _waiting_words(rows: list[UserTask]) -> str:
    return "; ".join(f"{r.name} ({r.lane})" for r in rows) or "no one"


def invoice_actions(session: Session, actor: Actor, invoice: Invoice) -> list[Action]:
    """The invoice screen's More Action items for this actor: only tasks whose lane role they hold."""
    return actions_for_invoices(session, actor, [invoice])[invoice.id]


def actions_for_invoices(session: Session, actor: Actor, invoices: list[Invoice]) -> dict[int, list[Action]]:
    """More Action items for a page of invoices, in three queries whatever the page size."""
    _version, loaded = clinic_process(session, actor)
    ids = [i.id for i in invoices]
    instances = {
        i.invoice_id: i
        for i in session.scalars(
            select(ProcessInstance).where(
                ProcessInstance.invoice_id.in_(ids), ProcessInstance.status.in_(ACTIVE_INSTANCE_STATUSES)
            )
        )
    }
    ready: dict[int, list[UserTask]] = {}
    if instances:
        query = select(UserTask).where(
            UserTask.instance_id.in_([i.id for i in instances.values()]), UserTask.state == "ready"
        )
        for row in session.scalars(query):
            ready.setdefault(row.invoice_id, []).append(row)
    actions = {}
    for invoice in invoices:
        instance = instances.get(invoice.id)
        # A running instance keeps the version it started with: its steps decide what is offered.
        own = spec_of(instance.version) if instance else loaded
        actions[invoice.id] = _actions(actor, own, invoice, instance, ready.get(invoice.id, []))
    return actions


def _actions(actor, loaded, invoice, instance, ready) -> list[Action]:
    start = first_user_task(loaded)
    actions = []
    for spec in user_task_specs(loaded):
        if screen_of(spec) != "invoice" or not actor.has_any(lane_roles(spec.lane)):
            continue
        reason = ""
        if invoice.status == "cancelled":
            reason = "The invoice is already cancelled."
        elif instance is None and spec.name != start.name:
            reason = f"Available later in the process: submit an {start.bpmn_name or start.name} first."
        elif instance is not None and instance.status == "incident":
            reason = "The cancellation is stopped by an incident: the clinic administrator is resolving it."
        elif instance is not None and spec.name not in {r.element_id for r in ready}:
            status = (invoice.approval_status or instance.status).capitalize()
            reason = f"Not available now: the cancellation is {status} and waits for {_waiting_words(ready)}."
        actions.append(Action(spec.name, spec.bpmn_name or spec.name, not reason, reason))
    return actions


def task_form(session: Session, actor: Actor, invoice: Invoice, element_id: str) -> FormDef:
    """The form of an invoice-screen action, if the actor may do it now (else the reason, as an error)."""
    action = next((a for a in invoice_actions(session, actor, invoice) if a.element_id == element_id), None)
    if action is None:
        raise Forbidden("Your roles do not allow this action on the invoice.")
    if not action.enabled:
        raise Conflict(action.reason)
    version, loaded = clinic_process(session, actor)
    instance = active_instance(session, invoice)
    if instance is not None:
        loaded = spec_of(instance.version)
    return describe_form(loaded.spec.task_specs[element_id])


def complete_task(
    session: Session, actor: Actor, number: str, element_id: str, submitted: dict, screen: str = "invoice"
) -> Outcome:
    """Complete a user task of the invoice's cancellation (starting it when this is its first task)."""
    invoice = get_invoice(session, actor, number, lock=True)
    if invoice.status == "cancelled":
        raise Conflict(f"Invoice {invoice.number} is already cancelled: nothing more can be done with it.")
    instance = active_instance(session, invoice)
    if instance is None:
        return _start(session, actor, invoice, element_id, submitted, screen)
    return continue_task(session, actor, invoice, instance, element_id, submitted, screen)


def check_role(actor: Actor, spec) -> None:
    roles = lane_roles(spec.lane)
    if not actor.has_any(roles):
        who = " or ".join(ROLES[r] for r in roles)
        raise Forbidden(f"{spec.bpmn_name or spec.name} is done by {who}; your roles are {actor.role_names}.")


def _seed(invoice: Invoice) -> dict:
    return {
        "invoice_number": invoice.number,
        "patient_name": invoice.patient_name,
        "patient_id": invoice.patient_id,
        "amount": invoice.amount,
        "currency": invoice.clinic.currency,
    }


def _start(session, actor, invoice, element_id, submitted, screen) -> Outcome:
    version, loaded = clinic_process(session, actor)
    _check_role_of(actor, loaded, element_id)
    start = first_user_task(loaded)
    if element_id != start.name or screen_of(start) != screen:
        spec = loaded.spec.task_specs.get(element_id)
        name = spec.bpmn_name if spec is not None else element_id
        raise Conflict(f"{name} is not possible yet: start with {start.bpmn_name or start.name}.")
    check_role(actor, start)
    seed = _seed(invoice)
    values = validate(describe_form(start), submitted, seed)
    instance = ProcessInstance(
        clinic_id=invoice.clinic_id,
        invoice_id=invoice.id,
        process_version_id=version.id,
        business_key=f"{actor.clinic_id}:{invoice.number}",
        status="running",
        state_json="{}",
        started_by_id=actor.user_id,
    )
    session.add(instance)
    try:
        session.flush()  # the database allows one active instance per invoice: a simultaneous start fails here
    except IntegrityError:
        raise Conflict(f"Invoice {invoice.number} already has a cancellation in progress.") from None
    workflow = new_workflow(loaded, seed)
    context = ActionContext(session, actor.user_id, invoice, instance)
    with operations_bound_to(context):
        workflow.do_engine_steps()
    task = next(t for t in ready_user_tasks(workflow) if t.task_spec.name == element_id)
    return _run(session, actor, context, workflow, task, values, None, ready=[])


def _check_role_of(actor: Actor, loaded: LoadedProcess, element_id: str) -> None:
    spec = loaded.spec.task_specs.get(element_id)
    if spec is None or not getattr(spec, "manual", False):
        raise NotFound(f"The process has no step named {element_id}.")
    check_role(actor, spec)


def continue_task(session, actor, invoice, instance, element_id, submitted, screen, request=None) -> Outcome:
    """Complete a ready task of a running instance; the invoice must already be locked by the caller."""
    loaded = spec_of(instance.version)
    _check_role_of(actor, loaded, element_id)
    rows = list(session.scalars(select(UserTask).where(UserTask.instance_id == instance.id)))
    ready = [r for r in rows if r.state == "ready"]
    row = next((r for r in ready if r.element_id == element_id and r.screen == screen), None)
    if row is None:
        if element_id == first_user_task(loaded).name:
            status = (invoice.approval_status or instance.status).capitalize()
            raise Conflict(
                f"Invoice {invoice.number} already has an open cancellation ({status}) that waits for "
                f"{_waiting_words(ready)}: a new one is possible once it is decided."
            )
        raise Conflict(_not_waiting_message(session, instance, element_id, ready))
    if instance.status == "incident":
        raise Conflict("This cancellation is stopped by an incident: the administrator must resolve it first.")
    version = instance.version
    spec = loaded.spec.task_specs[element_id]
    if screen == APPROVAL_SCREEN:
        check_separation_of_duties(session, actor, instance, rows)
    workflow = load_workflow(instance.state_json, version.spec_json)
    task = workflow.get_task_from_id(UUID(row.task_id))
    values = validate(describe_form(spec), submitted, task.data)
    context = ActionContext(session, actor.user_id, invoice, instance)
    if request is not None:
        context.known_request = request
    return _run(session, actor, context, workflow, task, values, row, ready)


def _not_waiting_message(session, instance, element_id, ready) -> str:
    done = session.scalar(
        select(UserTask)
        .where(
            UserTask.instance_id == instance.id,
            UserTask.element_id == element_id,
            UserTask.state == "completed",
        )
        .order_by(UserTask.completed_at.desc())
    )
    if done is not None:
        who = session.get(User, done.completed_by_id)
        when = done.completed_at.strftime("%Y-%m-%d %H:%M UTC")
        return f"{done.name} was already done by {who.full_name} ({who.username}) at {when}: reload to see it."
    return f"This step is not open now: the cancellation waits for {_waiting_words(ready)}."


def check_separation_of_duties(
    session: Session, actor: Actor, instance: ProcessInstance, rows: list[UserTask] | None = None
) -> None:
    """Nobody decides a request they made, and nobody decides twice on one request."""
    if rows is None:
        rows = list(session.scalars(select(UserTask).where(UserTask.instance_id == instance.id)))
    mine = [r for r in rows if r.state == "completed" and r.completed_by_id == actor.user_id]
    if any(t.screen != APPROVAL_SCREEN for t in mine):
        raise Forbidden("You made this cancellation request, so you cannot decide it: another approver must.")
    if mine:
        raise Forbidden("You already decided on this request: another approver must decide this step.")


def _run(session, actor, context, workflow, task, values, row, ready=None) -> Outcome:
    instance = context.instance
    task.set_data(**values)
    task.run()
    form = describe_form(task.task_spec)
    shown = [[f.label, f.option_name(values.get(f.id))] for f in form.fields]
    context.audit("task_completed", task=form.title, element_id=form.task_id, values=shown)
    outcome = Outcome("Saved.")
    try:
        with operations_bound_to(context):
            workflow.do_engine_steps()
    except WorkflowException as exc:
        instance.status = "incident"
        instance.incident_element = getattr(getattr(exc, "task_spec", None), "name", None)
        instance.incident_message = str(exc)
        instance.incident_at = context.now
        outcome = Outcome(
            "Your input was saved, but the next step failed; the follow-up is with the clinic administrator.",
            incident=True,
        )
    if instance.status != "incident":
        instance.status = "completed" if workflow.is_completed() else "running"
        instance.completed_at = context.now if workflow.is_completed() else None
    instance.state_json = dump_workflow(workflow)
    instance.updated_at = context.now
    sync_task_rows(session, workflow, instance, task, actor.user_id, values, row, context.now, ready)
    return outcome


def history(session: Session, actor: Actor, invoice: Invoice) -> list[AuditEvent]:
    """The invoice's cancellation history, oldest first."""
    if invoice.clinic_id != actor.clinic_id:
        raise NotFound("Invoice not found.")
    return list(session.scalars(select(AuditEvent).where(AuditEvent.invoice_id == invoice.id).order_by(AuditEvent.id)))


def history_details(event: AuditEvent) -> dict:
    return json.loads(event.details or "{}")


REQUEST_STEP, CANCEL_STEP = "request_cancellation", "cancel_invoice"


def request_cancellation(session: Session, actor: Actor, number: str, body: dict) -> Outcome:
    """Submit an Invoice Cancellation Request (approval clinics); direct clinics cancel without one."""
    get_invoice(session, actor, number)
    _version, loaded = clinic_process(session, actor)
    if first_user_task(loaded).name != REQUEST_STEP:
        raise Conflict(f"{actor.clinic_name} cancels invoices directly, without a request: cancel the invoice instead.")
    form = describe_form(loaded.spec.task_specs[REQUEST_STEP])
    return complete_task(session, actor, number, REQUEST_STEP, with_aliases(form, body))


def cancel_invoice(session: Session, actor: Actor, number: str, body: dict) -> Outcome:
    """Cancel Invoice: at once in a direct clinic, after approval in an approval clinic."""
    _version, loaded = clinic_process(session, actor)
    spec = loaded.spec.task_specs.get(CANCEL_STEP)
    values = with_aliases(describe_form(spec), body) if spec is not None else body
    return complete_task(session, actor, number, CANCEL_STEP, values)


def request_form(session: Session, actor: Actor) -> FormDef:
    """The Invoice Cancellation Request form of the clinic's current process (Conflict in direct clinics)."""
    _version, loaded = clinic_process(session, actor)
    start = first_user_task(loaded)
    if start.name != REQUEST_STEP:
        raise Conflict(f"{actor.clinic_name} cancels invoices directly, without a request.")
    return describe_form(start)
