"""Who may take a waiting step, and the **No one may decide** flag of instances whose step nobody may take.

One rule, used by the use cases that refuse a decision and by the flag: a step is taken by an active user who
holds one of its lane's roles in the instance's clinic; on a Financial Approval step, nobody who already
completed a step of the instance (the requester, an earlier decider) may take it (separation of duties).

The flag (a row of `no_one_may_decide`) is written when a step becomes ready (instances.task_rows, at the end of
every transition) and when role grants or users change (`refresh_clinic`), so monitoring lists read it and never
compute it.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from engine.models import Clinic, NoOneMayDecide, ProcessInstance, RoleGrant, User, UserTask, utcnow
from engine.vocabulary import InstanceStatus, Screen, UserTaskState

# Steps shown on these screens are decisions: who completed an earlier step of the instance may not take them.
SEPARATED_SCREENS = frozenset({Screen.FINANCIAL_APPROVAL})


def excluded_from(screen: str, completed_by: Iterable[int | None]) -> set[int]:
    """Who may not take a step shown on `screen` although they hold its role: everyone who completed a step of
    the instance, when the step is a decision."""
    return {u for u in completed_by if u is not None} if screen in SEPARATED_SCREENS else set()


def holders(session: Session, clinic_id: int) -> dict[str, set[int]]:
    """role -> the active users who hold it in the clinic."""
    query = (
        select(RoleGrant.role, RoleGrant.user_id)
        .join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.clinic_id == clinic_id, User.active.is_(True))
    )
    found: dict[str, set[int]] = defaultdict(set)
    for role, user_id in session.execute(query):
        found[role].add(user_id)
    return found


def who_may_take(
    roles: Iterable[str], screen: str, completed_by: Iterable[int | None], held: dict[str, set[int]]
) -> set[int]:
    """The active users who may take a step of these roles, shown on `screen`, now."""
    able = set().union(*(held.get(role, set()) for role in roles))
    return able - excluded_from(screen, completed_by)


def row_roles(row: UserTask) -> list[str]:
    return [role for role in row.roles.split(",") if role]


def completers(session: Session, instance_ids: Iterable[int]) -> dict[int, set[int]]:
    """instance id -> who completed a step of it."""
    ids = list(instance_ids)
    found: dict[int, set[int]] = defaultdict(set)
    if not ids:
        return found
    query = select(UserTask.instance_id, UserTask.completed_by_id).where(
        UserTask.instance_id.in_(ids), UserTask.state == UserTaskState.COMPLETED
    )
    for instance_id, user_id in session.execute(query):
        found[instance_id].add(user_id)
    return found


def stuck_rows(session: Session, instance: ProcessInstance, ready: list[UserTask]) -> list[UserTask]:
    """The instance's waiting steps that nobody may take (empty unless it is running)."""
    if instance.status != InstanceStatus.RUNNING or not ready:
        return []
    held = holders(session, instance.clinic_id)
    done = completers(session, [instance.id])[instance.id]
    return [row for row in ready if not who_may_take(row_roles(row), row.screen, done, held)]


def lock_clinic(session: Session, clinic_id: int, write: bool = False) -> None:
    """Role changes of a clinic (write) and the flags of its instances (read) take turns on PostgreSQL: a step
    that becomes ready while a role is revoked is judged by one state or the other, never by half of each
    (SQLite writers take turns anyway)."""
    session.execute(select(Clinic.id).where(Clinic.id == clinic_id).with_for_update(read=not write))


def set_flag(session: Session, instance: ProcessInstance, ready: list[UserTask]) -> None:
    """Called as the instance's waiting steps change: one statement in the common case (a flag to add or remove
    is a second). The SQL asks what `who_may_take` answers, for each waiting step at once.

    Who took part comes from the rows themselves (`done_by`, which task_rows keeps), so the action's pending
    changes need no flush first: the instance is written once, when the action commits."""
    with session.no_autoflush:
        if any(isinstance(o, NoOneMayDecide) and o.instance_id == instance.id for o in session.new):
            session.flush()  # a flag this very action added (a second transition) is seen, not added twice
        waiting = instance.status == InstanceStatus.RUNNING and bool(ready)
        if not waiting:
            session.execute(_UNFLAG, {"instance_id": instance.id})
            return
        if session.get_bind().dialect.name == "postgresql":  # SQLite's writers take turns anyway
            lock_clinic(session, instance.clinic_id)
        params = {"clinic_id": instance.clinic_id, "instance_id": instance.id}
        for i, row in enumerate(ready):
            params[f"roles_{i}"] = row_roles(row)
            separated = row.screen in SEPARATED_SCREENS
            params[f"took_part_{i}"] = [int(u) for u in (row.done_by or "").split(",") if u] if separated else []
        *someone, was_flagged = session.execute(_flag_query(len(ready)), params).one()
    stuck = not all(someone)
    if stuck and not was_flagged:
        session.add(NoOneMayDecide(instance_id=instance.id, clinic_id=instance.clinic_id, since=utcnow()))
    elif was_flagged and not stuck:
        session.execute(_UNFLAG, {"instance_id": instance.id})


_UNFLAG = delete(NoOneMayDecide).where(NoOneMayDecide.instance_id == bindparam("instance_id"))


@functools.lru_cache(maxsize=8)
def _flag_query(steps: int):
    """SELECT EXISTS (someone may take waiting step i) for each of `steps` steps, and whether the instance is
    flagged: built once per number of waiting steps. Step i: an active user of the clinic holds one of
    :roles_i and is none of :took_part_i (who did a step of the instance, for a decision; else empty)."""
    takers = [
        select(RoleGrant.id)
        .join(User, User.id == RoleGrant.user_id)
        .where(
            RoleGrant.clinic_id == bindparam("clinic_id"),
            RoleGrant.role.in_(bindparam(f"roles_{i}", expanding=True)),
            User.active.is_(True),
            RoleGrant.user_id.not_in(bindparam(f"took_part_{i}", expanding=True)),
        )
        .exists()
        for i in range(steps)
    ]
    flagged = select(NoOneMayDecide.instance_id).where(NoOneMayDecide.instance_id == bindparam("instance_id"))
    return select(*takers, flagged.exists())


def refresh_clinic(session: Session, clinic_id: int) -> None:
    """Role grants or users of the clinic changed: which of its waiting instances no one may decide, again.
    The caller has locked the clinic for writing (lock_clinic).

    Reads the clinic's waiting steps, who completed steps of those instances, who holds which role and which
    instances are flagged, in four statements; then adds and removes only the flags that change.
    """
    session.flush()
    ready_query = (
        select(UserTask)
        .join(ProcessInstance, ProcessInstance.id == UserTask.instance_id)
        .where(
            UserTask.clinic_id == clinic_id,
            UserTask.state == UserTaskState.READY,
            ProcessInstance.status == InstanceStatus.RUNNING,
        )
    )
    ready_by_instance: dict[int, list[UserTask]] = defaultdict(list)
    for row in session.scalars(ready_query):
        ready_by_instance[row.instance_id].append(row)
    held = holders(session, clinic_id)
    done = completers(session, ready_by_instance)
    stuck = {
        i
        for i, rows in ready_by_instance.items()
        if any(not who_may_take(row_roles(r), r.screen, done[i], held) for r in rows)
    }
    flagged = set(session.scalars(select(NoOneMayDecide.instance_id).where(NoOneMayDecide.clinic_id == clinic_id)))
    if flagged - stuck:
        session.execute(delete(NoOneMayDecide).where(NoOneMayDecide.instance_id.in_(flagged - stuck)))
    now = utcnow()
    session.add_all(NoOneMayDecide(instance_id=i, clinic_id=clinic_id, since=now) for i in sorted(stuck - flagged))
    session.flush()
