"""API keys for a clinic's systems (its billing system): each is an Integration service account of the clinic
and its key, shown once, stored as SHA-256, revocable, with an optional expiry and its last use."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import days
from engine.accounts.permissions import Permission, require
from engine.accounts.roles import Role
from engine.accounts.tokens import digest
from engine.accounts.users import Actor, hash_password
from engine.errors import Invalid, NotFound
from engine.models import ApiToken, Clinic, RoleGrant, User, utcnow
from engine.vocabulary import AuditAction

from .people import audit


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    account: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "Expired"
        return "Active"


def list_keys(session: Session, actor: Actor, key_id: int | None = None) -> list[KeyRow]:
    """The clinic's API keys, newest first (or the one with `key_id`)."""
    require(actor, Permission.MANAGE_INTEGRATIONS)
    query = (
        select(ApiToken, User.username)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.kind == "key", ApiToken.clinic_id == actor.clinic_id)
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    )
    rows = session.execute(query.where(ApiToken.id == key_id) if key_id is not None else query)
    return [
        KeyRow(k.id, k.name or "", username, k.created_at, k.expires_at, k.last_used_at, k.revoked_at)
        for k, username in rows
    ]


def create_key(session: Session, actor: Actor, name: str, expires_on: str = "") -> tuple[str, str, int]:
    """(what the administrator reads, the key: shown once, its id). `expires_on`: empty, or a day (as the clinic
    writes days, or ISO) after which the key stops working (end of that day in the clinic's time zone)."""
    require(actor, Permission.MANAGE_INTEGRATIONS)
    errors = {}
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        errors["name"] = "Name the system the key is for (at most 100 characters), e.g. Billing system."
    expires_at = None
    if (expires_on or "").strip():
        day = days.parse_day(expires_on, actor.locale)
        if day is None:
            hint = days.day_hint(actor.locale)
            errors["expires_on"] = f"Expires on '{expires_on}' is not a date: write it as {hint}, or leave it empty."
        if day is not None and day.year > 2999:
            day = None
            errors["expires_on"] = (
                "Expires on must be before the year 3000: leave it empty for a key that never expires."
            )
        if day is not None:
            zone = ZoneInfo(actor.timezone)
            expires_at = datetime.combine(day + timedelta(days=1), time(), zone)
            if expires_at <= utcnow():
                errors["expires_on"] = "Expires on must be today or later."
    if errors:
        raise Invalid(errors)
    clinic = session.get(Clinic, actor.clinic_id)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "system"
    account = User(
        username=f"api-{clinic.id}-{slug}-{secrets.token_hex(3)}",
        full_name=f"{name} (API key)",
        password_hash=hash_password(secrets.token_urlsafe(32)),  # nobody logs in with it
    )
    session.add(account)
    session.flush()
    session.add(RoleGrant(user_id=account.id, clinic_id=clinic.id, role=Role.INTEGRATION))
    key = "ck_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=account.id, token_hash=digest(key), kind="key", clinic_id=clinic.id, name=name, expires_at=expires_at
    )
    session.add(row)
    session.flush()
    audit(session, actor, clinic, AuditAction.API_KEY_CREATED, name=name, account=account.username)
    return f"API key {name} created: copy it now, it is shown only once.", key, row.id


def revoke_key(session: Session, actor: Actor, key_id: int) -> str:
    require(actor, Permission.MANAGE_INTEGRATIONS)
    key = session.get(ApiToken, key_id)
    if key is None or key.kind != "key" or key.clinic_id != actor.clinic_id:
        raise NotFound(f"API key {key_id} was not found in {actor.clinic_name}.")
    if key.revoked_at is not None:
        return f"API key {key.name} already is revoked."
    key.revoked_at = utcnow()
    audit(session, actor, session.get(Clinic, actor.clinic_id), AuditAction.API_KEY_REVOKED, name=key.name)
    return f"API key {key.name} is revoked: calls with it are refused from now on."
