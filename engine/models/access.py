"""How people and systems get in: API tokens, login sessions and failures, idempotent API answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class ApiToken(Base):
    """A bearer token for the JSON API: only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"

    __table_args__ = (CheckConstraint("kind IN ('token', 'key')", name="ck_api_tokens_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # an API key may never expire
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "token": a person's, from POST /api/tokens (12 hours); "key": an Integration service account's API key.
    kind: Mapped[str] = mapped_column(String(20), default="token", server_default="token")
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))  # the clinic it acts in
    name: Mapped[str | None] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A login session; the signed cookie carries only its id (accounts.sessions)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))  # chosen by people of several clinics
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginFailure(Base):
    """A failed login attempt (page or API), kept for throttling across workers and hosts (accounts.throttle)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_pair", "username", "address", "at"),
        Index("ix_login_failures_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotentResponse(Base):
    """The first response to a state-changing API call with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotent_responses"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    # SHA-256 of the first request's canonical JSON body (NULL for records kept before migration 0008)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
