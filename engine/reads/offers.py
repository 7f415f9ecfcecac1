"""What an invoice offers: the process a clinic runs now, the More Action items of an invoice for an actor
(enabled, or disabled with the reason why), and the forms those items open."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from engine import days
from engine.accounts.roles import lane_roles
from engine.accounts.users import UNDO_PROCESS, Actor
from engine.errors import Conflict, Forbidden, NotFound
from engine.models import CancellationRequest, Deployment, Invoice, ProcessInstance, ProcessVersion, UserTask
from engine.vocabulary import (
    ACTIVE_INSTANCE_STATUSES,
    InstanceStatus,
    InvoiceStatus,
    RequestStatus,
    Screen,
    UserTaskState,
)
from engine.workflow.forms import FormDef
from engine.workflow.parsing import LoadedProcess, screen_of
from engine.workflow.runtime import runtime_of

REQUEST_STEP, CANCEL_STEP, UNDO_STEP = "request_cancellation", "cancel_invoice", "undo_cancel"


@dataclass(frozen=True)
class Action:
    """A user task the invoice screen offers: enabled, or disabled with the reason why."""

    element_id: str
    name: str
    enabled: bool
    reason: str = ""


NOT_DEPLOYED = "No cancellation process is deployed: ask an administrator to start the app with processes/."


def latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    """The version new instances use: the one the most recent deployment of the process points at (deploying an
    earlier version's content again, or Make latest, rolls back); the highest number if none was recorded."""
    deployed = session.scalar(
        select(ProcessVersion)
        .join(Deployment, Deployment.process_version_id == ProcessVersion.id)
        .where(ProcessVersion.process_id == process_id)
        .order_by(Deployment.id.desc())
        .limit(1)
    )
    if deployed is not None:
        return deployed
    return session.scalar(
        select(ProcessVersion).where(ProcessVersion.process_id == process_id).order_by(ProcessVersion.version.desc())
    )


_NEWEST = (
    select(func.max(Deployment.id))
    .join(ProcessVersion, ProcessVersion.id == Deployment.process_version_id)
    .where(ProcessVersion.process_id.in_(bindparam("process_ids", expanding=True)))
    .group_by(ProcessVersion.process_id)
)
# Built once (statements every action runs: building one costs about what running it does).
_LATEST = (
    select(ProcessVersion)
    .join(Deployment, Deployment.process_version_id == ProcessVersion.id)
    .where(Deployment.id.in_(_NEWEST))
)


def latest_versions(session: Session, process_ids: list[str]) -> dict[str, ProcessVersion]:
    """latest_version of each process, in one statement (a second only for processes whose deployments were
    never recorded); a process with no version is left out."""
    found = {v.process_id: v for v in session.scalars(_LATEST, {"process_ids": list(process_ids)})}
    missing = [p for p in process_ids if p not in found]
    if missing:
        query = select(ProcessVersion).where(ProcessVersion.process_id.in_(missing))
        for version in session.scalars(query.order_by(ProcessVersion.version)):
            found[version.process_id] = version  # the highest number last
    return found


def clinic_process(session: Session, actor: Actor) -> tuple[ProcessVersion, LoadedProcess]:
    """The latest deployed version of the process the actor's clinic runs."""
    version = latest_version(session, actor.process_id)
    if version is None:
        raise Conflict(NOT_DEPLOYED)
    return version, runtime_of(session).spec_of(version)


def starts_on(first_task) -> str:
    """Which invoices a process starts on: its first user task's `invoice_status` property (default open)."""
    return (getattr(first_task, "extensions", None) or {}).get("invoice_status", InvoiceStatus.OPEN)


def clinic_processes(session: Session, actor: Actor) -> list[tuple[ProcessVersion, LoadedProcess]]:
    """What a clinic runs: its cancellation process (by its workflow, or its own), then Undo Cancel when
    deployed; each starts on the invoices its first task names (open, cancelled)."""
    versions = latest_versions(session, list(dict.fromkeys([actor.process_id, UNDO_PROCESS])))
    version = versions.get(actor.process_id)
    if version is None:
        raise Conflict(NOT_DEPLOYED)
    found = [(version, runtime_of(session).spec_of(version))]
    undo = versions.get(UNDO_PROCESS)
    if undo is not None and undo.process_id != actor.process_id:
        found.append((undo, runtime_of(session).spec_of(undo)))
    return found


def process_for(
    processes: list[tuple[ProcessVersion, LoadedProcess]], runtime, invoice: Invoice
) -> tuple[ProcessVersion, LoadedProcess] | None:
    """The process that starts on the invoice as it is now (open: the cancellation; cancelled: Undo Cancel)."""
    return next((p for p in processes if starts_on(runtime.first_user_task(p[1])) == invoice.status), None)


def get_invoice(session: Session, actor: Actor, number: str) -> Invoice:
    """The invoice of the actor's clinic; another clinic's invoice is simply not found."""
    invoice = session.scalar(select(Invoice).where(Invoice.clinic_id == actor.clinic_id, Invoice.number == number))
    if invoice is None:
        raise not_found(actor, number)
    return invoice


def not_found(actor: Actor, number: str) -> NotFound:
    return NotFound(f"Invoice {number} was not found in {actor.clinic_name}: check the number and search again.")


_ACTIVE = select(ProcessInstance).where(
    ProcessInstance.invoice_id == bindparam("invoice_id"), ProcessInstance.status.in_(ACTIVE_INSTANCE_STATUSES)
)


def active_instance(session: Session, invoice: Invoice) -> ProcessInstance | None:
    return session.scalar(_ACTIVE, {"invoice_id": invoice.id})


def waiting_words(rows: list[UserTask]) -> str:
    return "; ".join(f"{r.name} ({r.lane})" for r in rows) or "no one"


def invoice_actions(session: Session, actor: Actor, invoice: Invoice) -> list[Action]:
    """The invoice screen's More Action items for this actor: only tasks whose lane role they hold."""
    return actions_for_invoices(session, actor, [invoice])[invoice.id]


ENDED = (RequestStatus.REJECTED, RequestStatus.WITHDRAWN, RequestStatus.TERMINATED)


def ended_requests(session: Session, invoices: list[Invoice]) -> dict[int, CancellationRequest]:
    """The latest request of each invoice whose approval status says it ended without a cancellation (Rejected,
    Withdrawn, Terminated): who ended it, when, with what remarks. One query, only when there are such invoices."""
    ids = [i.id for i in invoices if i.approval_status in ENDED]
    if not ids:
        return {}
    found = {}
    query = (
        select(CancellationRequest)
        .where(CancellationRequest.invoice_id.in_(ids), CancellationRequest.status.in_(ENDED))
        .order_by(CancellationRequest.requested_at, CancellationRequest.id)
    )
    for request in session.scalars(query):
        found[request.invoice_id] = request  # the latest wins
    return found


def actions_for_invoices(
    session: Session, actor: Actor, invoices: list[Invoice], ended: dict[int, CancellationRequest] | None = None
) -> dict[int, list[Action]]:
    """More Action items for a page of invoices, in three or four queries whatever the page size (`ended`: what
    ended_requests found, when the caller has read it already)."""
    runtime = runtime_of(session)
    if ended is None:
        ended = ended_requests(session, invoices)
    processes = clinic_processes(session, actor)
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
            UserTask.instance_id.in_([i.id for i in instances.values()]), UserTask.state == UserTaskState.READY
        )
        for row in session.scalars(query):
            ready.setdefault(row.invoice_id, []).append(row)
    actions = {}
    for invoice in invoices:
        instance = instances.get(invoice.id)
        # A running instance keeps the version it started with: its steps decide what is offered; else the
        # process that starts on the invoice as it is (the cancellation's own steps say why not when none does).
        if instance is not None:
            own = runtime.spec_of(instance.version)
        else:
            own = (process_for(processes, runtime, invoice) or processes[0])[1]
        start = runtime.first_user_task(own)
        actions[invoice.id] = _actions(actor, own, start, invoice, instance, ready.get(invoice.id, []))
        if instance is None and invoice.id in ended:
            _say_how_it_ended(actor, actions[invoice.id], ended[invoice.id], start)
    return actions


def _say_how_it_ended(actor: Actor, actions: list[Action], request: CancellationRequest, start) -> None:
    """A disabled step of an invoice whose request ended says how, and what to do now, instead of the words for
    an invoice never requested ("The request was rejected by Arjun Approver on 2026-12-01: ...")."""
    by = f" by {request.decided_by.full_name}" if request.decided_by is not None else ""
    when = request.decided_at or request.requested_at
    day = days.format_day(when.astimezone(ZoneInfo(actor.timezone)).date(), actor.locale)
    remarks = f" (“{request.decision_remarks}”)" if request.decision_remarks else ""
    words = f"The request was {request.status}{by} on {day}{remarks}: make a new {start.bpmn_name or start.name}."
    for n, action in enumerate(actions):
        if not action.enabled and action.element_id != start.name:
            actions[n] = Action(action.element_id, action.name, False, words)


def _actions(actor, loaded: LoadedProcess, start, invoice, instance, ready) -> list[Action]:
    actions = []
    for spec in loaded.user_task_specs():
        if screen_of(spec) != Screen.INVOICE or not actor.has_any(lane_roles(spec.lane)):
            continue
        reason = ""
        if instance is None and starts_on(start) != invoice.status:
            reason = (
                "The invoice is already cancelled."
                if invoice.status == InvoiceStatus.CANCELLED
                else ("Only for cancelled invoices.")
            )
        elif instance is None and spec.name != start.name:
            reason = f"Available later in the process: submit an {start.bpmn_name or start.name} first."
        elif instance is not None and instance.status == InstanceStatus.INCIDENT:
            reason = "The cancellation is stopped by an incident: the clinic administrator is resolving it."
        elif instance is not None and spec.name not in {r.element_id for r in ready}:
            status = (invoice.approval_status or instance.status).capitalize()
            reason = f"Not available now: the cancellation is {status} and waits for {waiting_words(ready)}."
        elif invoice.blocked and invoice.status == InvoiceStatus.OPEN:  # stored (cancellation_blockers.dmn)
            reason = f"Not possible now. {invoice.blocked_message or 'The cancellation blockers say no.'}"
        actions.append(Action(spec.name, spec.bpmn_name or spec.name, not reason, reason))
    return actions + _event_actions(actor, loaded, instance, ready)


def _event_actions(actor, loaded: LoadedProcess, instance, ready) -> list[Action]:
    """The diagram's events with a form that the instance's waiting steps may receive (e.g. Withdraw Request),
    offered to the person who made the request; removing the event from a step removes the item."""
    if instance is None or instance.status != InstanceStatus.RUNNING:
        return []
    waiting = {r.element_id for r in ready}
    found = []
    for attached, events in loaded.catch_events.items():
        if attached not in waiting:
            continue
        for event in events:
            mine = actor.user_id == instance.started_by_id
            reason = "" if mine else f"Only the person who made the request may use {event.name}."
            found.append(Action(event.element_id, event.name, mine, reason))
    return found


def task_form(session: Session, actor: Actor, invoice: Invoice, element_id: str) -> FormDef:
    """The form of an invoice-screen action, if the actor may do it now (else the reason, as an error)."""
    action = next((a for a in invoice_actions(session, actor, invoice) if a.element_id == element_id), None)
    if action is None:
        raise Forbidden("Your roles do not allow this action on the invoice.")
    if not action.enabled:
        raise Conflict(action.reason)
    instance = active_instance(session, invoice)
    runtime = runtime_of(session)
    if instance is not None:
        return runtime.spec_of(instance.version).form(element_id)
    return process_for(clinic_processes(session, actor), runtime, invoice)[1].form(element_id)


def request_form(session: Session, actor: Actor) -> FormDef:
    """The Invoice Cancellation Request form of the clinic's current process (Conflict in direct clinics)."""
    _version, loaded = clinic_process(session, actor)
    start = runtime_of(session).first_user_task(loaded)
    if start.name != REQUEST_STEP:
        raise Conflict(f"{actor.clinic_name} cancels invoices directly, without a request.")
    return loaded.form(start.name)
