"""Administration > Audit log: what was done to and in a clinic, by whom and when, filterable and as CSV.

A clinic's log holds its own events (people, roles, keys, settings, instances, invoices), the installation-wide
events of its people (logins, lockouts, password changes) and the analysts' deployments, which change every
clinic's process; never another clinic's.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, aliased

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.models import AuditEvent, RoleGrant, User
from engine.vocabulary import AuditAction

from .queries import Page, day_bounds_utc, paginate

# Installation-wide events that belong to the clinic of the person they are about.
PERSONAL = (
    AuditAction.LOGIN_FAILED,
    AuditAction.LOGIN_LOCKED,
    AuditAction.LOGGED_IN,
    AuditAction.PASSWORD_CHANGED,
)
KINDS = {action.value: action.value.replace("_", " ").capitalize() for action in AuditAction}


@dataclass(frozen=True)
class AuditFilters:
    date_from: date | None = None
    date_to: date | None = None
    person: str = ""  # a username
    kind: str = ""  # an AuditAction value


@dataclass(frozen=True)
class AuditLine:
    at: datetime
    who: str
    kind: str
    details: str


def _query(actor: Actor, filters: AuditFilters) -> Select:
    require(actor, Permission.AUDIT_LOG)
    people = select(RoleGrant.user_id).where(RoleGrant.clinic_id == actor.clinic_id)
    query = select(AuditEvent).where(
        or_(
            AuditEvent.clinic_id == actor.clinic_id,
            AuditEvent.clinic_id.is_(None) & AuditEvent.action.in_(PERSONAL) & AuditEvent.actor_id.in_(people),
            AuditEvent.clinic_id.is_(None) & (AuditEvent.action == AuditAction.PROCESS_DEPLOYED),
        )
    )
    if filters.date_from:
        query = query.where(AuditEvent.at >= day_bounds_utc(filters.date_from, actor.timezone)[0])
    if filters.date_to:
        query = query.where(AuditEvent.at < day_bounds_utc(filters.date_to, actor.timezone)[1])
    if filters.kind:
        query = query.where(AuditEvent.action == filters.kind)
    if filters.person.strip():
        person = aliased(User)
        query = query.where(AuditEvent.actor_id.in_(select(person.id).where(person.username == filters.person.strip())))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())


def _line(event: AuditEvent) -> AuditLine:
    who = f"{event.actor.full_name} ({event.actor.username})" if event.actor else "system"
    try:
        details = json.loads(event.details or "{}")
    except ValueError:
        details = {}
    text = "; ".join(f"{k}: {v}" for k, v in details.items() if k not in ("values",))
    return AuditLine(event.at, who, KINDS.get(event.action, event.action), text)


def audit_log(session: Session, actor: Actor, filters: AuditFilters, page: int = 1) -> Page[AuditLine]:
    found = paginate(session, _query(actor, filters), page, 50)
    return Page([_line(e) for e in found.items], found.total, found.page, found.per_page)


def audit_csv(session: Session, actor: Actor, filters: AuditFilters) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"At ({actor.timezone})", "Who", "Kind", "Details"])
    yield buffer.getvalue()
    for event in session.scalars(_query(actor, filters).execution_options(yield_per=500)):
        line = _line(event)
        buffer.seek(0)
        buffer.truncate()
        cells = [
            line.at.astimezone(ZoneInfo(actor.timezone)).strftime("%Y-%m-%d %H:%M:%S"),
            line.who,
            line.kind,
            line.details,
        ]
        writer.writerow(["'" + c if c[:1] in ("=", "+", "-", "@") else c for c in cells])
        yield buffer.getvalue()
