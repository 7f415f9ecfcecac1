"""Financial Approval use cases: a request of the clinic, its review form, and deciding it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from .accounts import Actor
from .errors import Conflict, Forbidden, NotFound
from .forms import FormDef, describe_form, with_aliases
from .models import CancellationRequest, ProcessInstance, ProcessVersion, User, UserTask
from .runtime import spec_of
from .services import (
    APPROVAL_SCREEN,
    Outcome,
    check_role,
    check_separation_of_duties,
    continue_task,
    get_invoice,
)
from .tasks import first_user_task


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
    if request.status != "requested":
        return None, _decided_message(request)
    row = _approval_row(session, request)
    if row is None:
        return None, "This request waits for no decision right now."
    instance = session.get(ProcessInstance, request.instance_id)
    spec = spec_of(instance.version).spec.task_specs[row.element_id]
    try:
        check_role(actor, spec)
        check_separation_of_duties(session, actor, instance)
    except Forbidden as exc:
        return None, exc.message
    return describe_form(spec), ""


def _approval_row(session: Session, request: CancellationRequest) -> UserTask | None:
    return session.scalar(
        select(UserTask).where(
            UserTask.instance_id == request.instance_id,
            UserTask.state == "ready",
            UserTask.screen == APPROVAL_SCREEN,
        )
    )


def decide(session: Session, actor: Actor, request_id: int, submitted: dict, step_id: int | None = None) -> Outcome:
    """Complete the Financial Approval step the request waits on (approve or reject, per the diagram).

    `step_id` is the step the person reviewed: if someone decided it meanwhile, nothing is done (409), so a
    decision meant for the first approval never lands on the second.
    """
    request = get_request(session, actor, request_id)
    invoice = get_invoice(session, actor, request.invoice.number, lock=True)
    session.refresh(request)
    if request.status != "requested":
        raise Conflict(_decided_message(request))
    row = _approval_row(session, request)
    if row is None:
        raise Conflict("This request waits for no decision right now.")
    if step_id is not None and row.id != step_id:
        raise Conflict(_step_taken_message(session, step_id, row))
    instance = session.get(ProcessInstance, request.instance_id)
    values = with_aliases(describe_form(spec_of(instance.version).spec.task_specs[row.element_id]), submitted)
    return continue_task(session, actor, invoice, instance, row.element_id, values, APPROVAL_SCREEN, request)


def _step_taken_message(session: Session, step_id: int, now_waiting: UserTask) -> str:
    seen = session.get(UserTask, step_id)
    who = session.get(User, seen.completed_by_id) if seen is not None and seen.completed_by_id else None
    by = f" by {who.full_name} ({who.username})" if who else ""
    step = seen.name if seen is not None else "The step you reviewed"
    return f"{step} was just decided{by}; the request now waits for {now_waiting.name}. Reload and review again."


def current_step(session: Session, request: CancellationRequest) -> UserTask | None:
    """The Financial Approval step the request waits on, if any."""
    return _approval_row(session, request)


def reason_names(session: Session, requests: list[CancellationRequest]) -> dict[int, str]:
    """The Reason of each request as its diagram's form names it (e.g. `duplicate` -> Duplicate invoice)."""
    if not requests:
        return {}
    version_of = dict(
        session.execute(
            select(ProcessInstance.id, ProcessInstance.process_version_id).where(
                ProcessInstance.id.in_({r.instance_id for r in requests})
            )
        ).all()
    )
    versions = {
        v.id: v
        for v in session.scalars(
            select(ProcessVersion)
            .options(load_only(ProcessVersion.id, ProcessVersion.process_id, ProcessVersion.content_hash))
            .where(ProcessVersion.id.in_(set(version_of.values())))
        )
    }
    fields = {vid: describe_form(first_user_task(spec_of(v))).get("reason") for vid, v in versions.items()}
    names = {}
    for request in requests:
        field = fields.get(version_of.get(request.instance_id))
        names[request.id] = field.option_name(request.reason) if field else request.reason
    return names


def decision_form(session: Session, actor: Actor, request_id: int) -> tuple[FormDef, UserTask]:
    """The form of the step the request waits on, and that step (Conflict when it waits on none)."""
    request = get_request(session, actor, request_id)
    step = _approval_row(session, request)
    if step is None:
        raise Conflict(f"This request waits for no decision: it is {request.status.capitalize()}.")
    version = session.get(ProcessInstance, step.instance_id).version
    return describe_form(spec_of(version).spec.task_specs[step.element_id]), step
