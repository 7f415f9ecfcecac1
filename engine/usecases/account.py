"""A person's own account (My account: their password) and the installation's first administrator."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.accounts import sessions, throttle
from engine.accounts.passwords import check_new_password
from engine.accounts.roles import Role
from engine.accounts.users import Actor, find_user, hash_password, verify_password
from engine.errors import Invalid, NotFound
from engine.models import AuditEvent, RoleGrant, User
from engine.vocabulary import AuditAction


@dataclass(frozen=True)
class WrongCurrentPassword:
    """The current password was not right: the failure is recorded (login throttling) and must be committed;
    nothing else changed."""

    errors: dict[str, str]


def change_password(
    session: Session, actor: Actor, current: str, new: str, again: str, address: str = ""
) -> str | WrongCurrentPassword:
    """The person's own new password (the current one is asked for). Every session and API token of theirs
    ends, this one too: the caller starts a new session for the person.

    Guessing the current password from a logged-in session is throttled like logins (engine.accounts.throttle,
    per username and client address): a wrong one is recorded and returned, for the caller to commit and show;
    TooManyAttempts while the address must wait (the password is not checked then)."""
    user = session.get(User, actor.user_id)
    throttle.check(session, user.username, address)
    if not verify_password(user, current):
        throttle.record_failure(session, user.username, address)
        return WrongCurrentPassword(
            {"current_password": "Current password is not right: type the one you logged in with."}
        )
    if new != again:
        raise Invalid({"new_password_again": "The two new passwords differ: type the same one twice."})
    if new == current:
        raise Invalid({"new_password": "Choose a password other than the current one."})
    check_new_password(new, user.username, user.full_name, field="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    sessions.end_all_of(session, user.id)
    throttle.record_success(session, user.username, address)
    session.add(AuditEvent(actor_id=user.id, action=AuditAction.PASSWORD_CHANGED, details="{}"))
    return "Your password is changed; your other sessions and API tokens ended."


def is_initialised(session: Session) -> bool:
    return bool(session.scalar(select(func.count(User.id))))


def initialise(session: Session, username: str, password: str, full_name: str = "") -> str | None:
    """The first installation administrator of an empty installation; None (nothing written) when it already
    has users."""
    if is_initialised(session):
        return None
    username = (username or "").strip()
    if not username:
        raise Invalid({"username": "Give the installation administrator's username, e.g. --admin root."})
    full_name = full_name or "Installation administrator"
    check_new_password(password, username, full_name)
    user = User(username=username, full_name=full_name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    session.add(RoleGrant(user_id=user.id, clinic_id=None, role=Role.INSTALLATION_ADMIN))
    details = json.dumps({"user": username, "role": Role.INSTALLATION_ADMIN, "by": "engine.cli init"})
    session.add(AuditEvent(action=AuditAction.ROLE_GRANTED, details=details))
    return f"Installation administrator {username} created: log in and add the first clinic (Administration > Clinics)."


def grant_installation_admin(session: Session, username: str) -> str:
    """For an installation upgraded from before installation administrators existed (run from the CLI)."""
    user = find_user(session, username)
    if user is None:
        raise NotFound(f"There is no user {username.strip()}.")
    held = session.scalar(
        select(RoleGrant).where(RoleGrant.user_id == user.id, RoleGrant.role == Role.INSTALLATION_ADMIN)
    )
    if held is not None:
        return f"{user.username} already is an installation administrator."
    session.add(RoleGrant(user_id=user.id, clinic_id=None, role=Role.INSTALLATION_ADMIN))
    details = json.dumps({"user": user.username, "role": Role.INSTALLATION_ADMIN})
    session.add(AuditEvent(action=AuditAction.ROLE_GRANTED, details=details))
    return f"{user.username} is now an installation administrator."
