"""People of a clinic, as its clinic administrator changes them: roles granted and revoked, users deactivated
and reactivated. Each change is audited and re-checks which waiting steps no one may decide.

Guards: the clinic keeps an active clinic administrator; nobody deactivates themselves; a clinic administrator
changes only people who work in their clinic alone (someone who also works elsewhere, or installation-wide, is
changed by an installation administrator).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.accounts import sessions
from engine.accounts.passwords import one_time_password
from engine.accounts.permissions import Permission, require
from engine.accounts.roles import ROLES, Role, role_names
from engine.accounts.users import Actor, find_user, hash_password
from engine.errors import Invalid, NotFound
from engine.instances import deciders
from engine.models import AuditEvent, Clinic, RoleGrant, User
from engine.vocabulary import AuditAction

CLINIC_ROLES = (Role.BILLING_STAFF, Role.APPROVER, Role.ADMIN)


@dataclass(frozen=True)
class Person:
    """A user of the clinic as Administration > Users lists them."""

    username: str
    full_name: str
    active: bool
    roles: tuple[str, ...]  # role ids in this clinic, in CLINIC_ROLES order
    email: str | None = None
    last_login_at: datetime | None = None
    id: int = 0

    @property
    def role_names(self) -> str:
        return role_names(self.roles) or "no role"


def clinic_of(session: Session, actor: Actor, clinic_id: int | None = None) -> Clinic:
    """The clinic whose people the actor administers: a clinic administrator's own; any, for an installation
    administrator (who must say which). Another clinic is not found."""
    require(actor, Permission.MANAGE_PEOPLE)
    if Role.INSTALLATION_ADMIN in actor.roles:
        clinic = session.get(Clinic, clinic_id) if clinic_id is not None else None
    else:
        clinic = session.get(Clinic, actor.clinic_id) if clinic_id in (None, actor.clinic_id) else None
    if clinic is None:
        raise NotFound(f"Clinic {clinic_id} was not found." if clinic_id is not None else "Choose a clinic first.")
    return clinic


def clinic_people(
    session: Session, actor: Actor, clinic_id: int | None = None, username: str | None = None
) -> list[Person]:
    """The clinic's users (or the one with `username`), by name, with their roles there."""
    clinic = clinic_of(session, actor, clinic_id)
    query = (
        select(User.username, User.full_name, User.email, User.active, User.last_login_at, User.id, RoleGrant.role)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.clinic_id == clinic.id, RoleGrant.role.in_(CLINIC_ROLES))  # service accounts: Integrations
        .order_by(User.full_name, User.username)
    )
    if username is not None:
        query = query.where(func.lower(User.username) == username.strip().lower())
    people: dict[str, Person] = {}
    for name, full_name, email, active, last_login, user_id, role in session.execute(query):
        known = people.get(name)
        roles = (*(known.roles if known else ()), role)
        ordered = tuple(r for r in CLINIC_ROLES if r in roles)
        people[name] = Person(name, full_name, active, ordered, email, last_login, user_id)
    return list(people.values())


def person(session: Session, actor: Actor, username: str, clinic_id: int | None = None) -> Person:
    """One user of the clinic (another clinic's is not found)."""
    found = clinic_people(session, actor, clinic_id, username)
    if not found:
        raise NotFound(f"There is no user {username.strip()} in this clinic.")
    return found[0]


def username_of(session: Session, actor: Actor, user_id: int, clinic_id: int | None = None) -> str:
    """The username of a user of the clinic, by id (another clinic's user is not found)."""
    clinic = clinic_of(session, actor, clinic_id)
    username = session.scalar(
        select(User.username)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .where(User.id == user_id, RoleGrant.clinic_id == clinic.id, RoleGrant.role.in_(CLINIC_ROLES))
    )
    if username is None:
        raise NotFound(f"There is no user {user_id} in {clinic.name}.")
    return username


def set_roles(session: Session, actor: Actor, username: str, roles: list[str], clinic_id: int | None = None) -> None:
    """Exactly these roles in the clinic: the missing ones granted first, then the others revoked."""
    for role in roles:
        _role(role)
    if not roles:
        raise Invalid({"roles": "Keep at least one role: deactivate the user instead."})
    held = person(session, actor, username, clinic_id).roles
    for role in roles:
        if role not in held:
            grant_role(session, actor, username, role, clinic_id)
    for role in held:
        if role not in roles:
            revoke_role(session, actor, username, role, clinic_id)


def _member(session: Session, clinic: Clinic, username: str, anyone: bool = False) -> User:
    """A user who holds a role in the clinic (another clinic's user is not found; with `anyone`, any user, so
    the installation administrator can give someone a role in a second clinic); locks the clinic."""
    deciders.lock_clinic(session, clinic.id, write=True)
    user = find_user(session, username)
    member = user is not None and (
        anyone
        or session.scalar(
            select(func.count(RoleGrant.id)).where(RoleGrant.user_id == user.id, RoleGrant.clinic_id == clinic.id)
        )
    )
    if member and is_service_account(session, user):
        raise Invalid({"user": f"{user.full_name} is an API key's service account: manage it on Integrations."})
    if not member:
        raise NotFound(f"There is no user {username.strip()} in {clinic.name}.")
    return user


def is_service_account(session: Session, user: User) -> bool:
    """An Integration account behind an API key: nobody logs in as it or manages it like a person."""
    return bool(
        session.scalar(
            select(func.count(RoleGrant.id)).where(RoleGrant.user_id == user.id, RoleGrant.role == Role.INTEGRATION)
        )
    )


def _role(role: str) -> Role:
    if role not in CLINIC_ROLES:
        raise Invalid({"role": f"Role must be one of: {role_names(CLINIC_ROLES)}."})
    return Role(role)


def _grant(session: Session, clinic: Clinic, user: User, role: Role) -> RoleGrant | None:
    return session.scalar(
        select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.clinic_id == clinic.id, RoleGrant.role == role)
    )


def audit(session: Session, actor: Actor, clinic: Clinic | None, action: AuditAction, **details) -> None:
    session.add(
        AuditEvent(
            clinic_id=clinic.id if clinic else None,
            actor_id=actor.user_id,
            action=action,
            details=json.dumps(details, default=str),
        )
    )


def grant_role(session: Session, actor: Actor, username: str, role: str, clinic_id: int | None = None) -> str:
    """Give a user of the clinic a role there; what the administrator reads."""
    clinic = clinic_of(session, actor, clinic_id)
    user = _member(session, clinic, username, anyone=Role.INSTALLATION_ADMIN in actor.roles)
    role = _role(role)
    if _grant(session, clinic, user, role) is not None:
        return f"{user.full_name} already is {ROLES[role]}."
    session.add(RoleGrant(user_id=user.id, clinic_id=clinic.id, role=role))
    audit(session, actor, clinic, AuditAction.ROLE_GRANTED, user=user.username, role=role)
    deciders.refresh_clinic(session, clinic.id)
    return f"{user.full_name} is now {ROLES[role]}."


def revoke_role(session: Session, actor: Actor, username: str, role: str, clinic_id: int | None = None) -> str:
    """Take a role of the clinic from a user; the clinic keeps at least one active clinic administrator."""
    clinic = clinic_of(session, actor, clinic_id)
    user = _member(session, clinic, username)
    role = _role(role)
    grant = _grant(session, clinic, user, role)
    if grant is None:
        return f"{user.full_name} is not {ROLES[role]}."
    if role == Role.ADMIN and user.active and _active_admins(session, clinic) == 1:
        last = f"{user.full_name} is the last clinic administrator of {clinic.name}"
        raise Invalid({"role": f"{last}: give the role to someone else first."})
    if session.scalar(select(func.count(RoleGrant.id)).where(RoleGrant.user_id == user.id)) == 1:
        only = f"{ROLES[role]} is {user.full_name}'s only role"
        raise Invalid({"role": f"{only}: deactivate the user instead, or grant another role first."})
    session.delete(grant)
    audit(session, actor, clinic, AuditAction.ROLE_REVOKED, user=user.username, role=role)
    deciders.refresh_clinic(session, clinic.id)
    return f"{user.full_name} is no longer {ROLES[role]}."


def set_active(session: Session, actor: Actor, username: str, active: bool, clinic_id: int | None = None) -> str:
    """Deactivate (ends their sessions and API tokens at once) or reactivate a user of the clinic."""
    clinic = clinic_of(session, actor, clinic_id)
    user = _member(session, clinic, username)
    if user.active == active:
        return f"{user.full_name} already is {'active' if active else 'deactivated'}."
    if not active and user.id == actor.user_id:
        raise Invalid({"user": "You cannot deactivate yourself: ask another clinic administrator."})
    if Role.INSTALLATION_ADMIN not in actor.roles and _works_elsewhere(session, user, clinic):
        outside = f"{user.full_name} also works outside {clinic.name}"
        raise Invalid({"user": f"{outside}: revoke their roles here instead, or ask an installation administrator."})
    if not active:
        for administered in _clinics_administered_by(session, user):
            deciders.lock_clinic(session, administered.id, write=True)
            if _active_admins(session, administered) == 1:
                raise Invalid({"user": f"{user.full_name} is the last clinic administrator of {administered.name}."})
    user.active = active
    if not active:
        sessions.end_all_of(session, user.id)
    action = AuditAction.USER_REACTIVATED if active else AuditAction.USER_DEACTIVATED
    audit(session, actor, clinic, action, user=user.username)
    for other in sorted(set(session.scalars(select(RoleGrant.clinic_id).where(RoleGrant.user_id == user.id)))):
        if other is not None:
            deciders.lock_clinic(session, other, write=True)
            deciders.refresh_clinic(session, other)
    return f"{user.full_name} is {'active again' if active else 'deactivated: their sessions and API tokens ended'}."


def _clinics_administered_by(session: Session, user: User) -> list[Clinic]:
    return list(
        session.scalars(
            select(Clinic)
            .join(RoleGrant, RoleGrant.clinic_id == Clinic.id)
            .where(RoleGrant.user_id == user.id, RoleGrant.role == Role.ADMIN)
            .order_by(Clinic.id)
        )
    )


def _active_admins(session: Session, clinic: Clinic) -> int:
    return session.scalar(
        select(func.count(RoleGrant.id))
        .join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.clinic_id == clinic.id, RoleGrant.role == Role.ADMIN, User.active.is_(True))
    )


USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,79}$")


@dataclass(frozen=True)
class NewPerson:
    """What Add user asks for."""

    username: str
    full_name: str
    email: str
    roles: tuple[str, ...]


def check_new_person(session: Session, person: NewPerson) -> NewPerson:
    """The person with names trimmed and the email normalised; Invalid naming each field that is wrong."""
    errors = {}
    username = (person.username or "").strip()
    if not USERNAME.match(username):
        errors["username"] = "Username must be 2-80 letters, digits, dots, dashes or underscores, e.g. m.tanaka."
    elif find_user(session, username) is not None:
        errors["username"] = f"Username {username} is taken (whatever its case): choose another."
    full_name = " ".join((person.full_name or "").split())
    if not full_name or len(full_name) > 200:
        errors["full_name"] = "Full name is required (at most 200 characters)."
    email = (person.email or "").strip()
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        errors["email"] = f"Email is not valid: {exc}"
    roles = tuple(r for r in CLINIC_ROLES if r in set(person.roles))
    if not roles or set(person.roles) - set(CLINIC_ROLES):
        errors["roles"] = f"Choose one or more roles: {role_names(CLINIC_ROLES)}."
    if errors:
        raise Invalid(errors)
    return NewPerson(username, full_name, email, roles)


def add_person(session: Session, clinic: Clinic, person: NewPerson) -> tuple[User, str]:
    """A new user of the clinic with a one-time password (returned once: only its hash is kept)."""
    password = one_time_password()
    user = User(
        username=person.username,
        full_name=person.full_name,
        email=person.email,
        password_hash=hash_password(password),
        must_change_password=True,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # someone added the same username at this very moment
        raise Invalid({"username": f"Username {person.username} was just taken: choose another."}) from None
    session.add_all(RoleGrant(user_id=user.id, clinic_id=clinic.id, role=role) for role in person.roles)
    return user, password


def add_user(session: Session, actor: Actor, person: NewPerson, clinic_id: int | None = None) -> tuple[str, str]:
    """Add user: (what the administrator reads, the one-time password to hand over)."""
    clinic = clinic_of(session, actor, clinic_id)
    deciders.lock_clinic(session, clinic.id, write=True)
    person = check_new_person(session, person)
    user, password = add_person(session, clinic, person)
    audit(session, actor, clinic, AuditAction.USER_ADDED, user=user.username, roles=list(person.roles))
    deciders.refresh_clinic(session, clinic.id)
    return f"{user.full_name} ({user.username}) was added as {role_names(person.roles)}.", password


def reset_password(session: Session, actor: Actor, username: str, clinic_id: int | None = None) -> tuple[str, str]:
    """A new one-time password for a user of the clinic; their sessions and API tokens end at once."""
    clinic = clinic_of(session, actor, clinic_id)
    user = _member(session, clinic, username)
    if user.id == actor.user_id:
        raise Invalid({"user": "Change your own password on My account."})
    if Role.INSTALLATION_ADMIN not in actor.roles and _works_elsewhere(session, user, clinic):
        outside = f"{user.full_name} also works outside {clinic.name}"
        raise Invalid({"user": f"{outside}: ask an installation administrator."})
    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    sessions.end_all_of(session, user.id)
    audit(session, actor, clinic, AuditAction.PASSWORD_RESET, user=user.username)
    return f"{user.full_name} has a new one-time password; their sessions ended.", password


def _works_elsewhere(session: Session, user: User, clinic: Clinic) -> bool:
    return bool(
        session.scalar(
            select(func.count(RoleGrant.id)).where(
                RoleGrant.user_id == user.id, (RoleGrant.clinic_id != clinic.id) | RoleGrant.clinic_id.is_(None)
            )
        )
    )
