"""People of a clinic, as its clinic administrator changes them: roles granted and revoked, users deactivated
and reactivated. Each change is audited and re-checks which waiting steps no one may decide.

Guards: the clinic keeps an active clinic administrator; nobody deactivates themselves; a clinic administrator
changes only people who work in their clinic alone (someone who also works elsewhere, or installation-wide, is
changed by an installation administrator).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.accounts import sessions
from engine.accounts.permissions import Permission, require
from engine.accounts.roles import ROLES, Role, role_names
from engine.accounts.users import Actor
from engine.errors import Invalid, NotFound
from engine.instances import deciders
from engine.models import AuditEvent, RoleGrant, User
from engine.vocabulary import AuditAction

CLINIC_ROLES = (Role.BILLING_STAFF, Role.APPROVER, Role.ADMIN)


@dataclass(frozen=True)
class Person:
    """A user of the clinic as Administration > Users lists them."""

    username: str
    full_name: str
    active: bool
    roles: tuple[str, ...]  # role ids in this clinic, in CLINIC_ROLES order

    @property
    def role_names(self) -> str:
        return role_names(self.roles) or "no role"


def clinic_people(session: Session, actor: Actor) -> list[Person]:
    """The clinic's users, by name, with their roles here."""
    require(actor, Permission.MANAGE_PEOPLE)
    rows = session.execute(
        select(User.username, User.full_name, User.active, RoleGrant.role)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.clinic_id == actor.clinic_id)
        .order_by(User.full_name, User.username)
    ).all()
    people: dict[str, Person] = {}
    for username, full_name, active, role in rows:
        known = people.get(username)
        roles = (*(known.roles if known else ()), role)
        people[username] = Person(username, full_name, active, tuple(r for r in CLINIC_ROLES if r in roles))
    return list(people.values())


def _member(session: Session, actor: Actor, username: str) -> User:
    """A user who holds a role in the actor's clinic (another clinic's user is not found); locks the clinic."""
    require(actor, Permission.MANAGE_PEOPLE)
    deciders.lock_clinic(session, actor.clinic_id, write=True)
    user = session.scalar(select(User).where(User.username == username.strip()))
    member = user is not None and session.scalar(
        select(func.count(RoleGrant.id)).where(RoleGrant.user_id == user.id, RoleGrant.clinic_id == actor.clinic_id)
    )
    if not member:
        raise NotFound(f"There is no user {username.strip()} in {actor.clinic_name}.")
    return user


def _role(role: str) -> Role:
    if role not in CLINIC_ROLES:
        raise Invalid({"role": f"Role must be one of: {role_names(CLINIC_ROLES)}."})
    return Role(role)


def _grant(session: Session, actor: Actor, user: User, role: Role) -> RoleGrant | None:
    return session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id, RoleGrant.clinic_id == actor.clinic_id, RoleGrant.role == role
        )
    )


def _audit(session: Session, actor: Actor, action: AuditAction, user: User, **details) -> None:
    details = json.dumps({"user": user.username, **details})
    session.add(AuditEvent(clinic_id=actor.clinic_id, actor_id=actor.user_id, action=action, details=details))


def grant_role(session: Session, actor: Actor, username: str, role: str) -> str:
    """Give a user of the clinic a role there; what the administrator reads."""
    user = _member(session, actor, username)
    role = _role(role)
    if _grant(session, actor, user, role) is not None:
        return f"{user.full_name} already is {ROLES[role]}."
    session.add(RoleGrant(user_id=user.id, clinic_id=actor.clinic_id, role=role))
    _audit(session, actor, AuditAction.ROLE_GRANTED, user, role=role)
    deciders.refresh_clinic(session, actor.clinic_id)
    return f"{user.full_name} is now {ROLES[role]}."


def revoke_role(session: Session, actor: Actor, username: str, role: str) -> str:
    """Take a role of the clinic from a user; the clinic keeps at least one active clinic administrator."""
    user = _member(session, actor, username)
    role = _role(role)
    grant = _grant(session, actor, user, role)
    if grant is None:
        return f"{user.full_name} is not {ROLES[role]}."
    if role == Role.ADMIN and user.active and _active_admins(session, actor) == 1:
        raise Invalid(
            {
                "role": f"{user.full_name} is the last clinic administrator of {actor.clinic_name}: "
                "give the role to someone else first."
            }  # fmt: skip
        )
    if session.scalar(select(func.count(RoleGrant.id)).where(RoleGrant.user_id == user.id)) == 1:
        raise Invalid(
            {
                "role": f"{ROLES[role]} is {user.full_name}'s only role: deactivate the user instead, "
                "or grant another role first."
            }  # fmt: skip
        )
    session.delete(grant)
    _audit(session, actor, AuditAction.ROLE_REVOKED, user, role=role)
    deciders.refresh_clinic(session, actor.clinic_id)
    return f"{user.full_name} is no longer {ROLES[role]}."


def set_active(session: Session, actor: Actor, username: str, active: bool) -> str:
    """Deactivate (ends their sessions and API tokens at once) or reactivate a user of the clinic."""
    user = _member(session, actor, username)
    if user.active == active:
        return f"{user.full_name} already is {'active' if active else 'deactivated'}."
    if not active and user.id == actor.user_id:
        raise Invalid({"user": "You cannot deactivate yourself: ask another clinic administrator."})
    elsewhere = session.scalar(
        select(func.count(RoleGrant.id)).where(
            RoleGrant.user_id == user.id,
            (RoleGrant.clinic_id != actor.clinic_id) | RoleGrant.clinic_id.is_(None),
        )
    )
    if elsewhere:
        raise Invalid(
            {
                "user": f"{user.full_name} also works outside {actor.clinic_name}: revoke their roles here instead, "
                "or ask an installation administrator."
            }  # fmt: skip
        )
    if not active and _grant(session, actor, user, Role.ADMIN) and _active_admins(session, actor) == 1:
        raise Invalid({"user": f"{user.full_name} is the last clinic administrator of {actor.clinic_name}."})
    user.active = active
    if not active:
        sessions.end_all_of(session, user.id)
    _audit(session, actor, AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED, user)
    deciders.refresh_clinic(session, actor.clinic_id)
    return f"{user.full_name} is {'active again' if active else 'deactivated: their sessions and API tokens ended'}."


def _active_admins(session: Session, actor: Actor) -> int:
    return session.scalar(
        select(func.count(RoleGrant.id))
        .join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.clinic_id == actor.clinic_id, RoleGrant.role == Role.ADMIN, User.active.is_(True))
    )
