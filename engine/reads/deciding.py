"""Who may decide a Financial Approval step, as SQL conditions on user_tasks (or an alias of it): a ready step
of one of the person's roles, of an instance in which they did no step yet (nobody decides their own request,
nobody decides twice). Financial Approval's list, Home and every page's badge count with these."""

from __future__ import annotations

import functools

from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, or_, select

from engine.accounts.users import Actor
from engine.models import UserTask
from engine.vocabulary import Screen, UserTaskState


def for_my_roles(actor: Actor, step) -> ColumnElement[bool]:
    """`step` (user_tasks or an alias) is for one of the actor's roles."""
    return for_roles(tuple(sorted(actor.roles)), step)


def for_roles(roles: tuple[str, ...], step) -> ColumnElement[bool]:
    """`step` is for one of `roles`. The expression is written as PostgreSQL's statistics on it are (migration
    0021), so its planner can tell how many steps match."""
    listed = literal_column("','") + step.roles + literal_column("','")
    return or_(*(listed.like(f"%,{role},%") for role in roles))


def open_step(roles: tuple[str, ...], step) -> list:
    """`step` is a ready Financial Approval step of one of `roles`."""
    return [step.state == UserTaskState.READY, step.screen == Screen.FINANCIAL_APPROVAL, for_roles(roles, step)]


def not_done_by(pattern, step) -> ColumnElement[bool]:
    """The actor has done no step of the step's instance (nobody decides their own request, nobody decides
    twice): the step row carries who did (user_tasks.done_by), so the covering index answers alone. `pattern`:
    the actor's (`done_by_pattern`), or a bound parameter for it."""
    return ~step.done_by.like(pattern)


def done_by_pattern(actor: Actor) -> str:
    return f"%,{actor.user_id},%"


def decidable_steps(actor: Actor) -> Select:
    """The ready Financial Approval steps the actor may decide now, from the covering index of the clinic's
    waiting steps alone (roles and who did earlier steps are in it). Counted as Camunda Tasklist counts tasks:
    with the shipped diagrams a request waits on one such step at a time."""
    return _decidable(tuple(sorted(actor.roles)), actor.clinic_id, done_by_pattern(actor))


@functools.lru_cache(maxsize=64)
def decidable_steps_bound(roles: tuple[str, ...]) -> Select:
    """decidable_steps of anyone with these roles, built once: :clinic_id and :not_done_by bound."""
    return _decidable(roles, bindparam("clinic_id"), bindparam("not_done_by"))


def _decidable(roles: tuple[str, ...], clinic_id, pattern) -> Select:
    return select(func.count()).where(
        UserTask.clinic_id == clinic_id, *open_step(roles, UserTask), not_done_by(pattern, UserTask)
    )
