"""Process instance monitoring for clinic administrators: lists, counts and export as plain SQL.

Nothing here deserializes a workflow: what an instance waits for is kept on its row (see instances.task_rows).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from engine.accounts.permissions import Permission, require
from engine.accounts.roles import role_names
from engine.accounts.users import Actor
from engine.errors import Invalid
from engine.models import Invoice, NoOneMayDecide, ProcessInstance, ProcessVersion, User, utcnow
from engine.vocabulary import InstanceStatus, Outcome

from .queries import MAX_PER_PAGE, Page, day_bounds_utc

STATUSES = (InstanceStatus.RUNNING, InstanceStatus.COMPLETED, InstanceStatus.TERMINATED, InstanceStatus.INCIDENT)
STATUS_LABELS = {status: status.label for status in STATUSES}


@dataclass(frozen=True)
class InstanceFilters:
    status: str = ""
    process_id: str = ""
    version: int | None = None
    waiting_element: str = ""
    number: str = ""
    started_from: date | None = None
    started_to: date | None = None
    no_one_may_decide: bool = False

    def check(self) -> None:
        errors = {}
        if self.status and self.status not in STATUSES:
            errors["status"] = f"Status must be one of: {', '.join(STATUS_LABELS.values())}."
        if self.started_from and self.started_to and self.started_from > self.started_to:
            errors["started_to"] = "Started To must be on or after Started From."
        if errors:
            raise Invalid(errors)


@dataclass(frozen=True)
class InstanceRow:
    id: int
    invoice_number: str
    process_id: str
    process_name: str
    version: int
    status: str
    waiting_task: str | None
    waiting_roles: str | None
    waiting_since: datetime | None
    started_by: str
    started_at: datetime
    incident_element: str | None
    business_key: str = ""
    started_by_username: str = ""
    no_one_may_decide: bool = False
    outcome: str | None = None
    ended_at: datetime | None = None
    ended_reason: str | None = None

    @property
    def outcome_label(self) -> str:
        return Outcome(self.outcome).label if self.outcome in set(Outcome) else ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def waiting_for(self) -> str:
        """E.g. "Review request — Approver, Clinic administrator"."""
        if not self.waiting_task:
            return ""
        roles = role_names(self.waiting_roles or "")
        return f"{self.waiting_task} — {roles}" if roles else self.waiting_task


def _require_admin(actor: Actor) -> None:
    require(actor, Permission.MONITOR_INSTANCES)


def _conditions(actor: Actor, filters: InstanceFilters) -> list:
    """The filters as conditions on process_instances alone, so counts and pages use its indexes."""
    _require_admin(actor)
    conditions = [ProcessInstance.clinic_id == actor.clinic_id]
    if filters.status:
        conditions.append(ProcessInstance.status == filters.status)
    if filters.process_id or filters.version is not None:
        versions = select(ProcessVersion.id)
        if filters.process_id:
            versions = versions.where(ProcessVersion.process_id == filters.process_id)
        if filters.version is not None:
            versions = versions.where(ProcessVersion.version == filters.version)
        conditions.append(ProcessInstance.process_version_id.in_(versions))
    if filters.no_one_may_decide:
        flagged = select(NoOneMayDecide.instance_id).where(NoOneMayDecide.clinic_id == actor.clinic_id)
        conditions.append(ProcessInstance.id.in_(flagged))
    if filters.waiting_element:
        conditions.append(ProcessInstance.waiting_element == filters.waiting_element)
    if filters.number.strip():
        term = filters.number.strip()
        # A prefix as an index range on (clinic_id, number), then the instances of those few invoices. The
        # invoices are the clinic's, so the instances are too: without a clinic condition of its own, the
        # planner reads them by invoice, not the whole clinic.
        invoices = select(Invoice.id).where(
            Invoice.clinic_id == actor.clinic_id, Invoice.number >= term, Invoice.number < term + "\uffff"
        )
        conditions[0] = ProcessInstance.invoice_id.in_(invoices)
    if filters.started_from:
        conditions.append(ProcessInstance.started_at >= day_bounds_utc(filters.started_from, actor.timezone)[0])
    if filters.started_to:
        conditions.append(ProcessInstance.started_at < day_bounds_utc(filters.started_to, actor.timezone)[1])
    return conditions


def _query(actor: Actor, filters: InstanceFilters) -> Select:
    starter = aliased(User)
    return (
        select(
            ProcessInstance.id,
            Invoice.number,
            ProcessVersion.process_id,
            ProcessVersion.name,
            ProcessVersion.version,
            ProcessInstance.status,
            ProcessInstance.waiting_task,
            ProcessInstance.waiting_roles,
            ProcessInstance.waiting_since,
            starter.full_name,
            ProcessInstance.started_at,
            ProcessInstance.incident_element,
            ProcessInstance.business_key,
            starter.username,
            select(NoOneMayDecide.instance_id).where(NoOneMayDecide.instance_id == ProcessInstance.id).exists(),
            ProcessInstance.outcome,
            ProcessInstance.completed_at,
            ProcessInstance.ended_reason,
        )
        .join(Invoice, Invoice.id == ProcessInstance.invoice_id)
        .join(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
        .join(starter, starter.id == ProcessInstance.started_by_id)
        .where(*_conditions(actor, filters))
    )


def _ordered(query: Select) -> Select:
    """Longest waiting first; then the newest of those that wait for nobody."""
    return query.order_by(
        ProcessInstance.waiting_since.asc().nulls_last(),
        ProcessInstance.started_at.desc(),
        ProcessInstance.id.desc(),
    )


def list_instances(
    session: Session, actor: Actor, filters: InstanceFilters, page: int = 1, per_page: int = 25
) -> Page[InstanceRow]:
    """A page in display order: those waiting, longest first, then the others, newest first.

    The two groups are read separately, each along an index, and only the page's rows are joined.
    """
    filters.check()
    conditions = _conditions(actor, filters)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    count = select(func.count(ProcessInstance.id)).where(*conditions)
    total = session.scalar(count) or 0
    waiting = session.scalar(count.where(ProcessInstance.waiting_since.is_not(None))) or 0
    page = min(max(page, 1), max(1, -(-total // per_page)))
    offset = (page - 1) * per_page
    ids: list[int] = []
    if offset < waiting:
        ids += session.scalars(
            select(ProcessInstance.id)
            .where(*conditions, ProcessInstance.waiting_since.is_not(None))
            .order_by(ProcessInstance.waiting_since, ProcessInstance.id)
            .limit(per_page)
            .offset(offset)
        )
    if len(ids) < per_page:
        ids += session.scalars(
            select(ProcessInstance.id)
            .where(*conditions, ProcessInstance.waiting_since.is_(None))
            .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
            .limit(per_page - len(ids))
            .offset(max(0, offset - waiting))
        )
    rows = (
        {row[0]: row for row in session.execute(_query(actor, filters).where(ProcessInstance.id.in_(ids)))}
        if ids
        else {}
    )
    return Page([InstanceRow(*rows[i]) for i in ids if i in rows], total, page, per_page)


@dataclass(frozen=True)
class Overview:
    counts: dict[str, int]
    oldest_waiting_since: datetime | None
    no_one_may_decide: int = 0

    @property
    def oldest_waiting_age(self) -> str:
        if self.oldest_waiting_since is None:
            return "nothing waits"
        return age_words(self.oldest_waiting_since)


def age_words(since: datetime, now: datetime | None = None) -> str:
    """How long something has waited, as people say it: "less than a minute", "20 min", "3 h 20 min", "1 day",
    "2 days" (whole days from one day on: the hours no longer matter)."""
    seconds = max(int(((now or utcnow()) - since).total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days} day{'s' if days != 1 else ''}"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "less than a minute"


def overview(session: Session, actor: Actor) -> Overview:
    _require_admin(actor)
    rows = session.execute(
        select(ProcessInstance.status, func.count())
        .where(ProcessInstance.clinic_id == actor.clinic_id)
        .group_by(ProcessInstance.status)
    ).all()
    counts = {status: 0 for status in STATUSES} | dict(rows)
    oldest = session.scalar(
        select(func.min(ProcessInstance.waiting_since)).where(
            ProcessInstance.clinic_id == actor.clinic_id, ProcessInstance.status == InstanceStatus.RUNNING
        )
    )
    stuck = session.scalar(
        select(func.count(NoOneMayDecide.instance_id)).where(NoOneMayDecide.clinic_id == actor.clinic_id)
    )
    return Overview(counts, oldest, stuck or 0)


def filter_choices(session: Session, actor: Actor) -> dict[str, list]:
    """Values the filters offer: processes with versions, and the tasks instances wait on."""
    _require_admin(actor)
    versions = session.execute(
        select(ProcessVersion.process_id, ProcessVersion.name, ProcessVersion.version).order_by(
            ProcessVersion.process_id, ProcessVersion.version
        )
    ).all()
    tasks = session.execute(
        select(ProcessInstance.waiting_element, func.min(ProcessInstance.waiting_task))
        .where(ProcessInstance.clinic_id == actor.clinic_id, ProcessInstance.waiting_element.is_not(None))
        .group_by(ProcessInstance.waiting_element)
    ).all()
    return {"versions": versions, "tasks": tasks}


CSV_HEADER = [
    "Invoice No.",
    "Process",
    "Version",
    "Status",
    "Waiting for",
    "Waiting since (UTC)",
    "Started by",
    "Started at (UTC)",
    "Incident at",
    "No one may decide",
    "Outcome",
    "Ended at (UTC)",
    "Termination reason",
]


def _cell(value) -> str:
    """Spreadsheet-safe: a cell that starts like a formula is prefixed with a quote."""
    text = "" if value is None else (value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, actor: Actor, filters: InstanceFilters) -> Iterator[str]:
    """The filtered list as CSV lines, in the list's order, streamed in batches."""
    filters.check()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    yield buffer.getvalue()
    for row in session.execute(_ordered(_query(actor, filters)).execution_options(yield_per=1000)):
        r = InstanceRow(*row)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(
            [
                _cell(v)
                for v in (
                    r.invoice_number,
                    r.process_name,
                    r.version,
                    r.status_label,
                    r.waiting_for,
                    r.waiting_since,
                    r.started_by,
                    r.started_at,
                    r.incident_element,
                    "yes" if r.no_one_may_decide else "",
                    r.outcome_label,
                    r.ended_at,
                    r.ended_reason,
                )
            ]
        )
        yield buffer.getvalue()
