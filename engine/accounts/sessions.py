"""Login sessions kept on the server: the signed cookie only names one, so logout, an idle or absolute
timeout, a password change or a deactivation ends it for good (a replayed cookie is refused).

Settings: SESSION_IDLE_MINUTES (default 30) and SESSION_MAX_HOURS (default 12).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Bundle, Session

from engine.models import ApiToken, AuditEvent, Clinic, RoleGrant, User, WebSession, utcnow
from engine.vocabulary import AuditAction

from .users import Actor, actor_from

TOUCH_EVERY = timedelta(seconds=60)  # last_seen is written at most this often (reads stay reads)


def idle_limit() -> timedelta:
    return timedelta(minutes=float(os.environ.get("SESSION_IDLE_MINUTES") or 30))


def absolute_limit() -> timedelta:
    return timedelta(hours=float(os.environ.get("SESSION_MAX_HOURS") or 12))


def start(session: Session, user_id: int) -> str:
    """A new session for the user; its id goes into the signed cookie."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(WebSession(id=session_id, user_id=user_id, created_at=now, last_seen_at=now))
    return session_id


class Found(NamedTuple):
    user_id: int | None  # the user of a live session, or None
    write: str | None  # what the caller writes in a unit of its own: "touch", "end" or None
    clinic_id: int | None = None  # the clinic the person chose to act in (people of several clinics)


def look_up(session: Session, session_id: str | None) -> Found:
    """The session's user and chosen clinic. Reads only, so a page that only reads stays a read-only unit of
    work; the caller writes in its own unit when asked to."""
    if not session_id:
        return Found(None, None)
    return _live(session.get(WebSession, session_id))


def _live(found: WebSession | None) -> Found:
    if found is None or found.ended_at is not None:
        return Found(None, None)
    now = utcnow()
    if now - found.last_seen_at > idle_limit() or now - found.created_at > absolute_limit():
        return Found(None, "end")
    return Found(found.user_id, "touch" if now - found.last_seen_at > TOUCH_EVERY else None, found.clinic_id)


class Acting(NamedTuple):
    found: Found
    actor: Actor | None  # who the live session's person acts as (None: no live session, or no role left)


_SESSION = Bundle(
    "session", WebSession.user_id, WebSession.clinic_id, WebSession.created_at, WebSession.last_seen_at,
    WebSession.ended_at,
)  # fmt: skip
_USER = Bundle("user", User.id, User.username, User.full_name, User.active, User.must_change_password)
_GRANT = Bundle("grant", RoleGrant.role, RoleGrant.clinic_id)
_CLINIC = Bundle(
    "clinic", Clinic.id, Clinic.name, Clinic.cancellation_mode, Clinic.timezone, Clinic.currency, Clinic.process_id,
    Clinic.locale,
)  # fmt: skip


_ACTING = (  # built once: every request runs it
    select(_SESSION, _USER, _GRANT, _CLINIC)
    .join(User, User.id == WebSession.user_id)
    .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
    .outerjoin(Clinic, Clinic.id == RoleGrant.clinic_id)
    .where(WebSession.id == bindparam("session_id"))
    .order_by(RoleGrant.id)
)


def acting(session: Session, session_id: str | None, user_id: str | None) -> Acting:
    """The live session's person as an Actor, in one statement: the session, its user, their role grants and
    the clinics of those grants are read together (look_up and actor_for in one), as plain columns. `user_id` is
    what the cookie says; a session of someone else counts as none."""
    if not session_id:
        return Acting(Found(None, None), None)
    rows = session.execute(_ACTING, {"session_id": session_id}).all()
    found = _live(rows[0].session if rows else None)
    if found.user_id is None or str(found.user_id) != str(user_id):
        return Acting(found, None)
    grants = [row.grant for row in rows if row.grant.role is not None]
    clinics = {row.clinic.id: row.clinic for row in rows if row.clinic.id is not None}
    return Acting(found, actor_from(rows[0].user, grants, clinics, found.clinic_id))


def choose_clinic(session: Session, session_id: str, clinic_id: int, user_id: int | None = None) -> None:
    """The session acts in this clinic from now on (the caller checked the person works there); with the
    person's id, the switch is audited in the clinic's log."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(clinic_id=clinic_id))
    if user_id is not None:
        session.add(AuditEvent(clinic_id=clinic_id, actor_id=user_id, action=AuditAction.CLINIC_CHOSEN, details="{}"))


def touch(session: Session, session_id: str) -> None:
    session.execute(update(WebSession).where(WebSession.id == session_id).values(last_seen_at=utcnow()))


def end(session: Session, session_id: str | None) -> None:
    if session_id:
        session.execute(
            update(WebSession)
            .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_all_of(session: Session, user_id: int) -> None:
    """A password change or deactivation ends every session and API token of the user at once."""
    now = utcnow()
    session.execute(
        update(WebSession).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None)).values(ended_at=now)
    )
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


def live_count(session: Session, user_id: int) -> int:
    return len(
        session.scalars(select(WebSession.id).where(WebSession.user_id == user_id, WebSession.ended_at.is_(None))).all()
    )
