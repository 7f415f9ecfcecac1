"""Home: what waits for the person, by role, read from the task rows' indexes (never from workflows).

- Approvers and clinic administrators: the requests waiting on a step they may decide (never their own, never
  one they already decided: the same rule as Financial Approval's list).
- Billing staff: invoice-screen steps waiting for their roles (e.g. "Approved — ready to Cancel Invoice"), and
  their own requests with status, what each waits for and since when.
- Clinic administrators: incidents and requests that no one may decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, may
from engine.accounts.roles import role_names
from engine.accounts.users import Actor
from engine.models import CancellationRequest, NoOneMayDecide, ProcessInstance, UserTask
from engine.vocabulary import InstanceStatus, RequestKind, RequestStatus, Screen, UserTaskState

from .offers import CANCEL_STEP
from .queries import _decidable_by

MY_REQUESTS = 10


@dataclass(frozen=True)
class Waiting:
    """A line of Home: what, how many, and which list shows them (endpoint, arguments)."""

    label: str
    count: int
    endpoint: str
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class MyRequest:
    number: str
    kind: str
    status: str
    waiting_for: str  # "Review request (Approver, Clinic administrator)" or ""
    since: datetime | None


@dataclass(frozen=True)
class Home:
    waiting: list[Waiting]
    my_requests: list[MyRequest]


def decidable_count(session: Session, actor: Actor) -> int:
    """Requests waiting on a Financial Approval step the actor may decide now (the nav link's count)."""
    if not may(actor, Permission.DECIDE):
        return 0
    query = select(CancellationRequest.id).where(
        CancellationRequest.clinic_id == actor.clinic_id, CancellationRequest.status == RequestStatus.REQUESTED
    )
    return session.scalar(select(func.count()).select_from(_decidable_by(query, actor).subquery())) or 0


def _invoice_steps(session: Session, actor: Actor) -> list[Waiting]:
    roles = literal(",") + UserTask.roles + literal(",")
    rows = session.execute(
        select(UserTask.element_id, UserTask.name, func.count())
        .where(
            UserTask.clinic_id == actor.clinic_id,
            UserTask.state == UserTaskState.READY,
            UserTask.screen == Screen.INVOICE,
            or_(*(roles.like(f"%,{role},%") for role in sorted(actor.roles))),
        )
        .group_by(UserTask.element_id, UserTask.name)
        .order_by(UserTask.name)
    ).all()
    found = []
    for element_id, name, count in rows:
        if element_id == CANCEL_STEP:
            found.append(
                Waiting(
                    f"Approved — ready to {name}", count, "billing.invoices", {"approval": "approved", "status": "open"}
                )
            )
        else:
            found.append(Waiting(f"Waiting for {name}", count, "billing.invoices", {}))
    return found


def _my_requests(session: Session, actor: Actor) -> list[MyRequest]:
    rows = session.execute(
        select(
            CancellationRequest,
            ProcessInstance.waiting_task,
            ProcessInstance.waiting_roles,
            ProcessInstance.waiting_since,
            ProcessInstance.status,
        )  # fmt: skip
        .join(ProcessInstance, ProcessInstance.id == CancellationRequest.instance_id)
        .where(CancellationRequest.clinic_id == actor.clinic_id, CancellationRequest.requested_by_id == actor.user_id)
        .order_by(CancellationRequest.requested_at.desc(), CancellationRequest.id.desc())
        .limit(MY_REQUESTS)
    ).all()
    found = []
    for request, task, roles, since, status in rows:
        waiting = ""
        if status == InstanceStatus.RUNNING and task:
            waiting = f"{task} ({role_names(roles or '')})"
        label = RequestStatus(request.status).label
        found.append(
            MyRequest(
                request.invoice.number,
                "Undo Cancel" if request.kind == RequestKind.UNDO else "Cancellation",
                label,
                waiting,
                since if waiting else (request.decided_at or request.requested_at),
            )
        )
    return found


def home(session: Session, actor: Actor) -> Home:
    waiting = []
    if may(actor, Permission.DECIDE):
        waiting.append(Waiting("Requests waiting for your decision", decidable_count(session, actor),
                               "approvals.queue"))  # fmt: skip
    waiting += _invoice_steps(session, actor)
    if may(actor, Permission.MONITOR_INSTANCES):
        incidents = session.scalar(
            select(func.count(ProcessInstance.id)).where(
                ProcessInstance.clinic_id == actor.clinic_id, ProcessInstance.status == InstanceStatus.INCIDENT
            )
        )
        stuck = session.scalar(
            select(func.count(NoOneMayDecide.instance_id)).where(NoOneMayDecide.clinic_id == actor.clinic_id)
        )
        waiting.append(Waiting("Incidents", incidents or 0, "admin.instances", {"status": "incident"}))
        waiting.append(Waiting("Requests no one may decide", stuck or 0, "admin.instances", {"no_one_may_decide": "1"}))
    return Home(waiting, _my_requests(session, actor))
