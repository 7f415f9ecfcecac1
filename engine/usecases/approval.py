"""Financial Approval use cases: a request of the clinic, its review form, and deciding it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload, load_only

from engine.accounts.roles import ROLES, lane_roles
from engine.accounts.users import Actor
from engine.errors import Conflict, Forbidden, NotFound
from engine.instances import deciders, lifecycle
from engine.instances.task_rows import rows_of
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, ProcessVersion, User, UserTask
from engine.reads import queries
from engine.vocabulary import InstanceStatus, InvoiceStatus, RequestStatus, Screen, UserTaskState
from engine.workflow.forms import FormDef, with_aliases
from engine.workflow.parsing import screen_of
from engine.workflow.runtime import runtime_of

from .steps import Outcome, StepInput, check_role, check_separation_of_duties, continue_task

_INVOICE_IN_SESSION = lazyload(CancellationRequest.invoice)  # found in the session, where the lock put it


def get_request(session: Session, actor: Actor, request_id: int) -> CancellationRequest:
    """A cancellation request of the actor's clinic; another clinic's is not found."""
    request = session.get(CancellationRequest, request_id)
    if request is None or request.clinic_id != actor.clinic_id:
        raise NotFound(f"Cancellation request {request_id} was not found in {actor.clinic_name}.")
    return request


def _decided_message(request: CancellationRequest) -> str:
    who = request.decided_by
    by = f" by {who.full_name} ({who.username})" if who else ""
    return f"This request was already decided: it is {request.status.capitalize()}{by}. Reload to see it."


def review_form(session: Session, actor: Actor, request: CancellationRequest) -> tuple[FormDef | None, str]:
    """The Financial Approval form the actor may fill in for this request now, or why they may not."""
    rows = _task_rows(session, request)
    instance = session.get(ProcessInstance, request.instance_id)
    return _review_form(session, actor, request, instance, _waiting_decision(rows), rows)


def _task_rows(session: Session, request: CancellationRequest) -> list[UserTask]:
    return rows_of(session, request.instance_id)


def _waiting_decision(rows: list[UserTask]) -> UserTask | None:
    return next((r for r in rows if r.state == UserTaskState.READY and r.screen == Screen.FINANCIAL_APPROVAL), None)


def _review_form(
    session: Session,
    actor: Actor,
    request: CancellationRequest,
    instance: ProcessInstance,
    row: UserTask | None,
    rows: list[UserTask],
) -> tuple[FormDef | None, str]:
    if request.status != RequestStatus.REQUESTED:
        return None, _decided_message(request)
    if row is None:
        return None, "This request waits for no decision right now."
    loaded = runtime_of(session).spec_of(instance.version)
    try:
        check_role(actor, loaded.task_spec(row.element_id))
        check_separation_of_duties(session, actor, instance, rows)
    except Forbidden as exc:
        return None, exc.message
    return loaded.form(row.element_id), ""


@dataclass(frozen=True)
class Review:
    """What the Review page shows of a request, read together (each row once)."""

    request: CancellationRequest
    form: FormDef | None  # the form the actor may send now, or None with the refusal that says why
    refusal: str
    warnings: list[str]
    step: UserTask | None  # the Financial Approval step it waits on
    reason_name: str
    awaiting: str | None  # whom it waits on ("Approver (approval 2 of 2)"), or None
    history: list[tuple[AuditEvent, dict]]


def review(session: Session, actor: Actor, request_id: int) -> Review:
    """The Review page of a request of the actor's clinic."""
    request = get_request(session, actor, request_id)
    rows = _task_rows(session, request)
    instance = session.get(ProcessInstance, request.instance_id)
    step = _waiting_decision(rows)
    form, refusal = _review_form(session, actor, request, instance, step, rows)
    warnings = _decision_warnings(session, actor, request, instance, step, rows) if form else []
    reason = _reason_field(runtime_of(session), instance.version)
    r = request
    awaiting = (
        queries.awaiting_words(step.lane, r.status, r.approvals_needed, r.approvals_left, r.approval_path)
        if step is not None
        else None
    )
    history = [(e, e.details_dict) for e in queries.history(session, actor, request.invoice)]
    reason_name = reason.option_name(request.reason) if reason else request.reason
    return Review(request, form, refusal, warnings, step, reason_name, awaiting, history)


MAX_PREVIEWS = 6  # combinations of the form's choices tried (Approve, Reject: 2)


def decision_warnings(session: Session, actor: Actor, request: CancellationRequest) -> list[str]:
    """Before the actor decides: the invoice is blocked from cancellation (as stored), or a choice of theirs
    after which the next step could be taken by no one.

    The diagram says what follows: each combination of the form's choices (e.g. Approve, Reject) is tried on a
    copy of the instance (see WorkflowRuntime.preview), and who could take each next step is asked of the same
    rule as the No one may decide flag, counting the actor out as someone who then took part.
    """
    rows = _task_rows(session, request)
    instance = session.get(ProcessInstance, request.instance_id)
    return _decision_warnings(session, actor, request, instance, _waiting_decision(rows), rows)


def _decision_warnings(
    session: Session,
    actor: Actor,
    request: CancellationRequest,
    instance: ProcessInstance,
    row: UserTask | None,
    rows: list[UserTask],
) -> list[str]:
    if row is None or instance.status != InstanceStatus.RUNNING:
        return []
    took_part = {r.completed_by_id for r in rows if r.state == UserTaskState.COMPLETED and r.completed_by_id}
    return _blocked_warning(request.invoice) + _no_one_left_warnings(session, actor, instance, row, took_part)


def _blocked_warning(invoice: Invoice) -> list[str]:
    """The cancellation blockers' stored verdict: approving is allowed, but Cancel Invoice will be refused."""
    if not invoice.blocked or invoice.status != InvoiceStatus.OPEN:
        return []
    return [
        f"Invoice {invoice.number} may not be cancelled now. {invoice.blocked_message or ''} If you approve, "
        "Cancel Invoice stays refused until this is done."
    ]


def _no_one_left_warnings(
    session: Session, actor: Actor, instance: ProcessInstance, row: UserTask, completed_by: set[int]
) -> list[str]:
    runtime = runtime_of(session)
    loaded = runtime.spec_of(instance.version)
    held = deciders.holders(session, instance.clinic_id)
    took_part = completed_by | {actor.user_id}
    steps = [spec for spec in loaded.spec.task_specs.values() if getattr(spec, "manual", False)]
    if all(deciders.who_may_take(lane_roles(s.lane), screen_of(s), took_part, held) for s in steps):
        return []  # every step of the process has someone left to take it: nothing to try
    form = loaded.form(row.element_id)
    plain = {f.id: f.default or "" for f in form.fields if not f.options}
    chosen = [f for f in form.fields if f.options]
    combinations = list(itertools.islice(itertools.product(*(f.options for f in chosen)), MAX_PREVIEWS + 1))
    if not chosen or len(combinations) > MAX_PREVIEWS:
        return []
    choices = [plain | {f.id: o.id for f, o in zip(chosen, combo, strict=True)} for combo in combinations]
    nexts = runtime.preview(instance.state_json, instance.version, row.task_id, choices)
    warnings = []
    for combo, specs in zip(combinations, nexts, strict=True):
        for spec in specs:
            roles = lane_roles(spec.lane)
            if deciders.who_may_take(roles, screen_of(spec), took_part, held):
                continue
            names = " or ".join(ROLES[r] for r in roles)
            choice = ", ".join(o.name for o in combo)
            step = spec.bpmn_name or spec.name
            if actor.has_any(roles):
                warnings.append(
                    f"If you choose {choice}, {step} follows: it needs a {names} who has not taken part in this "
                    f"request, and there is no one but you, whom deciding now rules out. Give the {names} role to "
                    "someone else first (Administration > Users), or leave this step to someone else; otherwise "
                    "the request will wait with no one to decide it."
                )
            else:
                warnings.append(
                    f"If you choose {choice}, {step} follows: it needs a {names} of {actor.clinic_name} who has "
                    "not taken part in this request, and there is none. Ask a clinic administrator to give the "
                    f"{names} role to someone first; otherwise the request will wait with no one to decide it."
                )
    return list(dict.fromkeys(warnings))


def current_step(session: Session, request: CancellationRequest) -> UserTask | None:
    """The Financial Approval step the request waits on, if any."""
    return session.scalar(
        select(UserTask).where(
            UserTask.instance_id == request.instance_id,
            UserTask.state == UserTaskState.READY,
            UserTask.screen == Screen.FINANCIAL_APPROVAL,
        )
    )


def decide(session: Session, actor: Actor, request_id: int, submitted: dict, step_id: int | None = None) -> Outcome:
    """Complete the Financial Approval step the request waits on (approve or reject, per the diagram).

    `step_id` is the step the person reviewed: if someone decided it meanwhile, nothing is done (409), so a
    decision meant for the first approval never lands on the second.
    """
    # The request's invoice is locked first, then the request read as it is under the lock (one read of each).
    invoice = lifecycle.lock_invoice(session, request_id=request_id)
    # Its invoice is the one just locked (in the session): not joined again.
    request = session.get(CancellationRequest, request_id, populate_existing=True, options=[_INVOICE_IN_SESSION])
    if invoice is None or request is None or request.clinic_id != actor.clinic_id:
        get_request(session, actor, request_id)  # not found in the actor's clinic: says so
    if request.status != RequestStatus.REQUESTED:
        raise Conflict(_decided_message(request))
    rows = rows_of(session, request.instance_id)
    row = next((r for r in rows if r.state == UserTaskState.READY and r.screen == Screen.FINANCIAL_APPROVAL), None)
    if row is None:
        raise Conflict("This request waits for no decision right now.")
    if step_id is not None and row.id != step_id:
        raise Conflict(_step_taken_message(session, step_id, row))
    instance = session.get(ProcessInstance, request.instance_id)
    values = with_aliases(runtime_of(session).spec_of(instance.version).form(row.element_id), submitted)
    ctx = lifecycle.context_for(session, actor, invoice, instance)
    ctx.known_request = request
    return continue_task(ctx, actor, StepInput(row.element_id, values, Screen.FINANCIAL_APPROVAL), rows)


def _step_taken_message(session: Session, step_id: int, now_waiting: UserTask) -> str:
    seen = session.get(UserTask, step_id)
    who = session.get(User, seen.completed_by_id) if seen is not None and seen.completed_by_id else None
    by = f" by {who.full_name} ({who.username})" if who else ""
    step = seen.name if seen is not None else "The step you reviewed"
    return f"{step} was just decided{by}; the request now waits for {now_waiting.name}. Reload and review again."


def reason_names(
    session: Session, requests: list[CancellationRequest], versions: dict[int, ProcessVersion] | None = None
) -> dict[int, str]:
    """The Reason of each request as its diagram's form names it (e.g. `duplicate` -> Duplicate invoice).
    `versions`: the version each request's instance runs (request id -> version), when the caller read them."""
    if not requests:
        return {}
    runtime = runtime_of(session)
    if versions is None:
        query = (
            select(CancellationRequest.id, ProcessVersion)
            .join(ProcessInstance, ProcessInstance.id == CancellationRequest.instance_id)
            .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
            .options(load_only(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.content_hash))
            .where(CancellationRequest.id.in_({r.id for r in requests}))
        )
        versions = dict(session.execute(query).tuples().all())
    fields = {v.id: _reason_field(runtime, v) for v in versions.values() if v is not None}
    names = {}
    for request in requests:
        version = versions.get(request.id)
        field = fields.get(version.id) if version is not None else None
        names[request.id] = field.option_name(request.reason) if field else request.reason
    return names


def _reason_field(runtime, version: ProcessVersion):
    """The Reason field of the version's first form (None when the diagram has none)."""
    loaded = runtime.spec_of(version)
    return loaded.form(runtime.first_user_task(loaded).name).get("reason")


def decision_form(session: Session, actor: Actor, request_id: int) -> tuple[FormDef, UserTask]:
    """The form of the step the request waits on, and that step (Conflict when it waits on none)."""
    request = get_request(session, actor, request_id)
    step = current_step(session, request)
    if step is None:
        raise Conflict(f"This request waits for no decision: it is {request.status.capitalize()}.")
    version = session.get(ProcessInstance, step.instance_id).version
    return runtime_of(session).spec_of(version).form(step.element_id), step


WITHDRAW = "Withdraw Request"


def withdraw(session: Session, actor: Actor, request_id: int, submitted: dict) -> Outcome:
    """The requester withdraws the request while it waits for a decision: the diagram's Withdraw Request event of
    the waiting step (refused with the reason when the step has none, or the actor is not the requester)."""
    request = get_request(session, actor, request_id)
    invoice = lifecycle.lock_invoice(session, invoice_id=request.invoice_id)
    session.refresh(request)
    if request.status != RequestStatus.REQUESTED:
        raise Conflict(f"This request is {RequestStatus(request.status).label}: only a request waiting for a "
                       "decision can be withdrawn.")  # fmt: skip
    instance = session.get(ProcessInstance, request.instance_id)
    loaded = runtime_of(session).spec_of(instance.version)
    row = current_step(session, request)
    events = [e for e in loaded.catch_events.get(row.element_id if row else "", []) if e.name == WITHDRAW]
    if not events:
        raise Conflict("The process offers no Withdraw Request at the step this request waits for.")
    values = with_aliases(loaded.form(events[0].element_id), submitted)
    ctx = lifecycle.context_for(session, actor, invoice, instance)
    ctx.known_request = request
    return continue_task(ctx, actor, StepInput(events[0].element_id, values))
