"""Bearer tokens for the JSON API: random, stored only as SHA-256, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Forbidden, Unauthenticated
from engine.models import ApiToken, utcnow

from . import throttle
from .users import Actor, actor_for

TOKEN_LIFETIME = timedelta(hours=12)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


WRONG_CREDENTIALS = "Username or password is not right. Check them and ask for a token again."


def issue(session: Session, username: str, password: str, address: str) -> tuple[str, datetime] | None:
    """A new token for these credentials, or None: the failure is recorded in this unit of work (the caller
    commits, then answers 401 with WRONG_CREDENTIALS). TooManyAttempts while the address must wait."""
    actor = throttle.log_in(session, username, password, address)
    if actor is None:
        return None
    if actor.must_change_password:
        raise Forbidden("Choose your own password first (log in on the web page): the one you were given works once.")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + TOKEN_LIFETIME
    session.add(ApiToken(user_id=actor.user_id, token_hash=_digest(token), expires_at=expires_at))
    return token, expires_at


def actor_for_token(session: Session, token: str) -> Actor:
    """The Actor of a valid token; Unauthenticated for a missing, unknown, expired or revoked one."""
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token or "")))
    if found is None or found.revoked_at is not None:
        raise Unauthenticated("The token is unknown or revoked: ask for a new one with POST /api/tokens.")
    if found.expires_at <= utcnow():
        raise Unauthenticated("The token has expired: ask for a new one with POST /api/tokens.")
    actor = actor_for(session, found.user_id)
    if actor is None:
        raise Unauthenticated("The account of this token is deactivated.")
    return actor


def revoke(session: Session, token: str) -> None:
    found = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token or "")))
    if found is not None and found.revoked_at is None:
        found.revoked_at = utcnow()
