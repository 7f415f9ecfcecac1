"""Financial Approval's words about decisions: who decided each request of a page and when, and why a request
someone searched for is not in their list of requests to decide."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.accounts.roles import lane_roles, who_words
from engine.accounts.users import Actor
from engine.models import CancellationRequest, Invoice, User, UserTask
from engine.vocabulary import RequestStatus, Screen, UserTaskState


@dataclass(frozen=True)
class Decision:
    step: str  # the step's name in the diagram, e.g. "Second approval"
    by: str  # full name
    at: datetime
    choice: str  # what was chosen, as stored with the step ("approve"), or ""


def decisions_of(session: Session, requests: list[CancellationRequest]) -> dict[int, list[Decision]]:
    """request id -> its completed Financial Approval steps, in order (one query for the page)."""
    by_instance = {r.instance_id: r.id for r in requests}
    if not by_instance:
        return {}
    rows = session.execute(
        select(UserTask.instance_id, UserTask.name, User.full_name, UserTask.completed_at, UserTask.form_data)
        .join(User, User.id == UserTask.completed_by_id)
        .where(
            UserTask.instance_id.in_(by_instance),
            UserTask.state == UserTaskState.COMPLETED,
            UserTask.screen == Screen.FINANCIAL_APPROVAL,
        )
        .order_by(UserTask.completed_at, UserTask.id)
    )
    found: dict[int, list[Decision]] = {r.id: [] for r in requests}
    for instance_id, step, name, at, form_data in rows:
        found[by_instance[instance_id]].append(Decision(step, name, at, _choice(form_data)))
    return found


def _choice(form_data: str | None) -> str:
    try:
        return str(json.loads(form_data or "{}").get("decision", ""))
    except (ValueError, AttributeError):
        return ""


def why_not_listed(session: Session, actor: Actor, number: str) -> str | None:
    """Searched by invoice number among the requests to decide and not found: why, if it waits for a decision
    ("NS-2026-00282 is your own request: another approver decides it"); None when no such request waits."""
    request = session.scalar(
        select(CancellationRequest)
        .join(Invoice, Invoice.id == CancellationRequest.invoice_id)
        .where(
            CancellationRequest.clinic_id == actor.clinic_id,
            CancellationRequest.status == RequestStatus.REQUESTED,
            func.lower(Invoice.number) == number.strip().lower(),
        )
        .order_by(CancellationRequest.requested_at.desc())
        .limit(1)
    )
    if request is None:
        return None
    shown = request.invoice.number
    steps = session.scalars(select(UserTask).where(UserTask.instance_id == request.instance_id)).all()
    waiting = [s for s in steps if s.state == UserTaskState.READY and s.screen == Screen.FINANCIAL_APPROVAL]
    if not waiting:
        return f"{shown} waits for no decision now: see its invoice for what it waits for."
    if request.requested_by_id == actor.user_id:
        return f"{shown} is your own request: another approver decides it."
    if any(s.completed_by_id == actor.user_id for s in steps if s.screen == Screen.FINANCIAL_APPROVAL):
        return f"You already decided on {shown}: another approver takes its next step."
    step = waiting[0]
    if not actor.has_any(lane_roles(step.lane)):
        return (
            f"{shown} waits for {step.name}, which a {who_words(step.lane)} takes: your roles are {actor.role_names}."
        )
    return None
