"""Who is told what when a cancellation moves (engine.events.notify does the telling): the requester when their
request is decided, terminated or escalated; the people who may decide a step when it starts waiting and when it
is overdue; the clinic administrators when an instance stops on an incident."""

from __future__ import annotations

from urllib.parse import quote

from engine.accounts.roles import Role, role_names
from engine.events.notify import notify, people_with_roles
from engine.models import CancellationRequest, User, UserTask
from engine.vocabulary import NotificationKind, RequestKind

from .context import ActionContext


def _what(request: CancellationRequest) -> str:
    return "undo request" if request.kind == RequestKind.UNDO else "cancellation request"


def tell_requester(ctx: ActionContext, request: CancellationRequest | None, happened: str, body: str) -> None:
    """'Invoice NS-2026-00012: your cancellation request was approved' (not when the requester did it)."""
    if request is None or request.requested_by_id == ctx.actor_id:
        return
    requester = request.requested_by or ctx.session.get(User, request.requested_by_id)
    number = ctx.invoice.number
    subject = f"Invoice {number}: your {_what(request)} was {happened}"
    notify(ctx.session, [requester], NotificationKind.MY_REQUEST, ctx.invoice.clinic_id, subject, body,
           f"/billing/invoices/{quote(number, safe='')}", ctx.now, ctx.invoice.id)  # fmt: skip


def tell_deciders(ctx: ActionContext, step: UserTask, reminder: bool = False) -> None:
    """The people who may decide a Financial Approval step that waits (never who took part in the request)."""
    request = ctx.request()
    if request is None:
        return
    if request.id is None:  # made by this very action: the link needs its id (only the request is written now)
        ctx.session.flush([request])
    excluded = {int(i) for i in (step.done_by or "").split(",") if i}
    excluded |= {request.requested_by_id} | ({ctx.actor_id} if ctx.actor_id else set())
    people = people_with_roles(ctx.session, ctx.invoice.clinic_id, step.roles.split(","), excluded)
    number = ctx.invoice.number
    if reminder:
        subject = f"Reminder: invoice {number} waits for your decision"
        body = f"The {_what(request)} still waits for {step.name} ({role_names(step.roles)}): it is overdue."
    else:
        subject = f"Invoice {number}: a {_what(request)} waits for your decision"
        body = f"{step.name} ({role_names(step.roles)}) waits for a decision."
    notify(ctx.session, people, NotificationKind.WAITING_FOR_YOU, ctx.invoice.clinic_id, subject, body,
           f"/billing/financial-approval/requests/{request.id}", ctx.now, ctx.invoice.id)  # fmt: skip


def tell_administrators(ctx: ActionContext, element: str | None, message: str | None) -> None:
    """An instance stopped on an incident: the clinic administrators see where (the details are on its page)."""
    people = people_with_roles(ctx.session, ctx.invoice.clinic_id, [Role.ADMIN])
    subject = f"Invoice {ctx.invoice.number}: the cancellation stopped at {element or 'a step'}"
    body = "An incident needs a clinic administrator: open the instance, fix the cause, then Retry."
    notify(ctx.session, people, NotificationKind.INCIDENT, ctx.invoice.clinic_id, subject, body,
           f"/admin/instances/{ctx.instance.id}", ctx.now, ctx.invoice.id)  # fmt: skip
