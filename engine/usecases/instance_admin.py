"""Clinic administrators steer instances: retry an incident, terminate with a reason."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.errors import Conflict, Invalid
from engine.instances import lifecycle
from engine.models import ProcessInstance, Timer
from engine.reads.instance_detail import find_instance
from engine.vocabulary import ACTIVE_INSTANCE_STATUSES, InstanceStatus, TimerStatus

REASON_MAX = 1000


def _locked(session: Session, actor: Actor, instance_id: int, permission: Permission):
    """The instance and its invoice, locked as every user action on the invoice locks it: an administrator's
    action and a user's SAVE on the same invoice never interleave."""
    require(actor, permission)
    instance = find_instance(session, actor, instance_id)
    invoice = lifecycle.lock_instance(session, instance)
    return lifecycle.context_for(session, actor, invoice, instance)


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid({"reason": "Reason is required: say why the instance is terminated."})
    if len(text) > REASON_MAX:
        raise Invalid({"reason": f"Reason is {len(text)} characters long; shorten it to at most {REASON_MAX}."})
    return text


def terminate(session: Session, actor: Actor, instance_id: int, reason: str | None) -> ProcessInstance:
    """End a running (or failed) instance: its ready tasks leave every queue, the request becomes Terminated."""
    ctx = _locked(session, actor, instance_id, Permission.TERMINATE)
    text = _reason(reason)
    if ctx.instance.status not in ACTIVE_INSTANCE_STATUSES:
        raise Conflict(
            f"This instance is already {ctx.instance.status.capitalize()}: only a running one can be terminated."
        )
    lifecycle.terminate(ctx, text)
    return ctx.instance


def retry(session: Session, actor: Actor, instance_id: int) -> bool:
    """Run the failed element again. True when it went through; False keeps the incident with the new error."""
    ctx = _locked(session, actor, instance_id, Permission.RETRY)
    if ctx.instance.status != InstanceStatus.INCIDENT:
        raise Conflict("This instance has no incident to retry.")
    went_through = lifecycle.retry(ctx)
    if went_through and ctx.instance.next_timer_at is not None:  # timers held back by the incident are due again
        session.execute(
            update(Timer)
            .where(Timer.instance_id == ctx.instance.id, Timer.status == TimerStatus.WAITING)
            .values(next_attempt_at=Timer.due_at)
        )
    return went_through
