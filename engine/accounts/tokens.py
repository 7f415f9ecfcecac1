"""Bearer tokens for the JSON API: random, stored only as SHA-256, expiring, revocable."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Unauthenticated
from engine.models import ApiToken, utcnow

from .users import Actor, actor_for, authenticate

TOKEN_LIFETIME = timedelta(hours=12)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(session: Session, username: str, password: str) -> tuple[str, datetime]:
    """A new token for these credentials, or Unauthenticated (the same answer for every failure)."""
    user = authenticate(session, username or "", password or "")
    if user is None or actor_for(session, user.id) is None:
        raise Unauthenticated("Username or password is not right. Check them and ask for a token again.")
    token = secrets.token_urlsafe(32)
    expires_at = utcnow() + TOKEN_LIFETIME
    session.add(ApiToken(user_id=user.id, token_hash=_digest(token), expires_at=expires_at))
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
