"""Bearer tokens for the JSON API (a person's, 12 hours) and API keys (a clinic system's): random, stored only
as SHA-256, expiring, revocable, each acting in one clinic."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.errors import Forbidden, Invalid, Unauthenticated
from engine.models import ApiToken, utcnow

from . import throttle
from .users import Actor, actor_for

TOKEN_LIFETIME = timedelta(hours=12)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


WRONG_CREDENTIALS = "Username or password is not right. Check them and ask for a token again."


def issue(
    session: Session, username: str, password: str, address: str, clinic: str | int | None = None
) -> tuple[str, datetime] | None:
    """A new token for these credentials, acting in one clinic (`clinic`: id or name; needed when the person
    works in several), or None: the failure is recorded in this unit of work (the caller commits, then answers
    401 with WRONG_CREDENTIALS). TooManyAttempts while the address must wait."""
    actor = throttle.log_in(session, username, password, address)
    if actor is None:
        return None
    if actor.must_change_password:
        raise Forbidden("Choose your own password first (log in on the web page): the one you were given works once.")
    clinic_id = _clinic_choice(actor, clinic)
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + TOKEN_LIFETIME
    session.add(ApiToken(user_id=actor.user_id, token_hash=digest(token), expires_at=expires_at, clinic_id=clinic_id))
    return token, expires_at


def _clinic_choice(actor: Actor, clinic: str | int | None) -> int | None:
    """The clinic a new token acts in."""
    works_in = ([(actor.clinic_id, actor.clinic_name)] if actor.clinic_id else []) + list(actor.other_clinics)
    names = ", ".join(name for _, name in works_in)
    if clinic in (None, ""):
        if len(works_in) > 1:
            raise Invalid({"clinic": f"You work in several clinics: send clinic, its id or name ({names})."})
        return actor.clinic_id
    for clinic_id, name in works_in:
        if str(clinic).strip().lower() in (str(clinic_id), name.lower()):
            return clinic_id
    raise Invalid({"clinic": f"You have no role in clinic {clinic}: choose one of {names or 'none'}."})


KEY_TOUCH_EVERY = timedelta(seconds=60)


def actor_for_token(session: Session, token: str) -> tuple[Actor, int | None]:
    """The Actor of a valid token or API key, and the id of a key whose last use should be written (at most
    once a minute, by the caller in a unit of its own). Unauthenticated for a missing, unknown, expired or
    revoked one."""
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token or "")))
    what = "API key" if found is not None and found.kind == "key" else "token"
    again = (
        "ask the clinic administrator for a new key" if what == "API key" else "ask for a new one with POST /api/tokens"
    )
    if found is None or found.revoked_at is not None:
        raise Unauthenticated(f"The {what} is unknown or revoked: {again}.")
    now = utcnow()
    if found.expires_at is not None and found.expires_at <= now:
        raise Unauthenticated(f"The {what} has expired: {again}.")
    actor = actor_for(session, found.user_id, found.clinic_id)
    if actor is None:
        raise Unauthenticated(f"The account of this {what} is deactivated.")
    if actor.must_change_password:
        raise Unauthenticated("Choose your own password first (log in on the web page), then ask for a new token.")
    if found.clinic_id is not None and actor.clinic_id != found.clinic_id:
        raise Unauthenticated(f"The account of this {what} no longer works in its clinic: {again}.")
    stale = found.kind == "key" and (found.last_used_at is None or now - found.last_used_at > KEY_TOUCH_EVERY)
    return actor, found.id if stale else None


def touch_key(session: Session, key_id: int) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == key_id).values(last_used_at=utcnow()))


def revoke(session: Session, token: str) -> None:
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token or "")))
    if found is not None and found.revoked_at is None:
        found.revoked_at = utcnow()
