"""Home: what waits for the person, by role, read from the task rows' indexes (never from workflows).

- Approvers and clinic administrators: the requests waiting on a step they may decide (never their own, never
  one they already decided: the same rule as Financial Approval's list).
- Billing staff: invoice-screen steps waiting for their roles (e.g. "Approved — ready to Cancel Invoice"), and
  their own requests with status, what each waits for and since when.
- Clinic administrators: incidents and requests that no one may decide.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, bindparam, func, literal, select, union_all
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, may
from engine.accounts.roles import Role, role_names
from engine.accounts.users import Actor
from engine.models import CancellationRequest, Invoice, NoOneMayDecide, Notification, ProcessInstance, UserTask
from engine.vocabulary import InstanceStatus, RequestKind, RequestStatus, Screen, UserTaskState

from .deciding import decidable_steps, decidable_steps_bound, done_by_pattern, for_my_roles
from .offers import CANCEL_STEP

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
    overdue: bool = False  # still waiting after the diagram's reminder


@dataclass(frozen=True)
class Home:
    waiting: list[Waiting]
    my_requests: list[MyRequest]


# A badge counts this many at most and then says "99+", as mail and chat apps do: counting every one of
# thousands of waiting steps or unread notifications on every page would cost more than the page (the lists
# themselves, Financial Approval and Notifications, count them all).
BADGE_MOST = 99


@dataclass(frozen=True)
class NavCounts:
    approvals_waiting: int  # requests the actor may decide now (the Financial Approval link), up to BADGE_MOST + 1
    notifications_unread: int  # the bell, up to BADGE_MOST + 1

    @staticmethod
    def badge(count: int) -> str:
        """A count as its badge shows it: "7", "99+"."""
        return f"{BADGE_MOST}+" if count > BADGE_MOST else str(count)


def _up_to_badge(count: Select):
    """The count of a `select(func.count()).where(...)`, stopping one past what a badge shows."""
    rows = count.with_only_columns(literal(1)).limit(BADGE_MOST + 1).subquery()
    return select(func.count()).select_from(rows).scalar_subquery()


def nav_counts(session: Session, actor: Actor) -> NavCounts:
    """The two counts every page shows, in one statement, each up to what its badge shows."""
    roles = tuple(sorted(actor.roles)) if may(actor, Permission.DECIDE) else None
    params = {"user_id": actor.user_id, "clinic_id": actor.clinic_id, "not_done_by": done_by_pattern(actor)}
    approvals, notes = session.execute(_nav_counts(roles), params).one()
    return NavCounts(approvals or 0, notes or 0)


@functools.lru_cache(maxsize=64)
def _nav_counts(roles: tuple[str, ...] | None) -> Select:
    """nav_counts' statement for people with these roles (None: who decides nothing), built once (every page
    runs it): :user_id, :clinic_id and :not_done_by bound."""
    unread = select(func.count()).where(Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))
    decidable = _up_to_badge(decidable_steps_bound(roles)) if roles is not None else literal(0)
    return select(decidable, _up_to_badge(unread))


def decidable_count(session: Session, actor: Actor) -> int:
    """How many requests wait on a step the actor may decide now (the Financial Approval link's count)."""
    if not may(actor, Permission.DECIDE):
        return 0
    return session.scalar(decidable_steps(actor)) or 0


def _waiting(session: Session, actor: Actor) -> list[Waiting]:
    """Every count of Home in one statement: (what, element, name, count) rows, each part an indexed count."""
    none = literal("")
    parts = []
    if may(actor, Permission.DECIDE):
        parts.append(decidable_steps(actor).add_columns(literal("decide"), none, none))
    parts.append(
        select(func.count(), literal("step"), UserTask.element_id, UserTask.name)
        .where(
            UserTask.clinic_id == actor.clinic_id,
            UserTask.state == UserTaskState.READY,
            UserTask.screen == Screen.INVOICE,
            for_my_roles(actor, UserTask),
        )
        .group_by(UserTask.element_id, UserTask.name)
    )
    if may(actor, Permission.MONITOR_INSTANCES):
        parts.append(
            select(func.count(), literal("incidents"), none, none).where(
                ProcessInstance.clinic_id == actor.clinic_id, ProcessInstance.status == InstanceStatus.INCIDENT
            )
        )
        parts.append(
            select(func.count(), literal("stuck"), none, none).where(NoOneMayDecide.clinic_id == actor.clinic_id)
        )
    rows = session.execute(union_all(*parts)).all()
    counts = {what: count for count, what, _element, _name in rows if what != "step"}
    found = []
    if "decide" in counts:
        found.append(Waiting("Requests waiting for your decision", counts["decide"], "approvals.queue"))
    for count, _what, element_id, name in sorted((r for r in rows if r[1] == "step"), key=lambda r: r[3]):
        if element_id == CANCEL_STEP:
            args = {"approval": "approved", "status": "open"}
            found.append(Waiting(f"Approved — ready to {name}", count, "billing.invoices", args))
        else:
            found.append(Waiting(f"Waiting for {name}", count, "billing.invoices", {}))
    if "incidents" in counts:
        found.append(Waiting("Incidents", counts["incidents"], "admin.instances", {"status": "incident"}))
        found.append(
            Waiting("Requests no one may decide", counts["stuck"], "admin.instances", {"no_one_may_decide": "1"})
        )
    return found


def _my_requests(session: Session, actor: Actor) -> list[MyRequest]:
    """The actor's latest requests (the requester index, newest first) with their invoice and waiting step."""
    rows = session.execute(
        select(
            CancellationRequest.kind,
            CancellationRequest.status,
            CancellationRequest.requested_at,
            CancellationRequest.decided_at,
            CancellationRequest.overdue_since,
            Invoice.number,
            ProcessInstance.waiting_task,
            ProcessInstance.waiting_roles,
            ProcessInstance.waiting_since,
            ProcessInstance.status,
        )
        .join(Invoice, Invoice.id == CancellationRequest.invoice_id)
        .join(ProcessInstance, ProcessInstance.id == CancellationRequest.instance_id)
        .where(CancellationRequest.clinic_id == actor.clinic_id, CancellationRequest.requested_by_id == actor.user_id)
        .order_by(CancellationRequest.requested_at.desc(), CancellationRequest.id.desc())
        .limit(MY_REQUESTS)
    ).all()
    found = []
    for kind, request_status, requested_at, decided_at, overdue_since, number, task, roles, since, status in rows:
        waiting = ""
        if status == InstanceStatus.RUNNING and task:
            waiting = f"{task} ({role_names(roles or '')})"
        found.append(
            MyRequest(
                number,
                "Undo Cancel" if kind == RequestKind.UNDO else "Cancellation",
                RequestStatus(request_status).label,
                waiting,
                since if waiting else (decided_at or requested_at),
                bool(overdue_since) and request_status == RequestStatus.REQUESTED,
            )
        )
    return found


def home(session: Session, actor: Actor) -> Home:
    """Two statements: every count, then the person's own requests (billing staff only)."""
    mine = _my_requests(session, actor) if Role.BILLING_STAFF in actor.roles else []
    return Home(_waiting(session, actor), mine)
