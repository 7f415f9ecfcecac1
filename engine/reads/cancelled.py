"""Home > Billing > Cancelled Invoice: the clinic's cancelled invoices, who cancelled them, when, why.

The reason and the request's remarks come from the approved request (approval-based clinics); the remarks given
at Cancel Invoice are kept on the invoice. Dates filter by the day of cancellation in the clinic's time zone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from engine.accounts.users import Actor
from engine.errors import Invalid
from engine.models import CancellationRequest, Invoice, ProcessInstance, ProcessVersion, User
from engine.vocabulary import InvoiceStatus, RequestStatus
from engine.workflow.runtime import runtime_of

from .offers import REQUEST_STEP
from .queries import Page, day_bounds_utc, parse_day
from .search import invoice_matches

PER_PAGE = 20


@dataclass(frozen=True)
class CancelledFilters:
    q: str = ""
    day_from: date | None = None
    day_to: date | None = None

    @classmethod
    def parse(cls, args, locale: str | None = None) -> CancelledFilters:
        found = cls(
            (args.get("q") or "").strip(),
            parse_day(args.get("from"), "From", "from", locale),
            parse_day(args.get("to"), "To", "to", locale),
        )
        if found.day_from and found.day_to and found.day_from > found.day_to:
            raise Invalid({"to": "To must be on or after From."})
        return found


@dataclass(frozen=True)
class CancelledRow:
    number: str
    patient_name: str
    patient_id: str
    invoice_date: date
    amount: Decimal
    currency: str
    cancelled_at: datetime
    cancelled_by: str
    reason: str  # as the request form names it, or "" (direct cancellation)
    request_remarks: str
    cancel_remarks: str


def _query(actor: Actor, filters: CancelledFilters, dialect: str) -> Select:
    completed = and_(
        CancellationRequest.invoice_id == Invoice.id, CancellationRequest.status == RequestStatus.COMPLETED
    )
    query = (
        select(
            Invoice,
            User.full_name,
            User.username,
            CancellationRequest.reason,
            CancellationRequest.remarks,
            ProcessVersion.id,
        )
        .join(User, User.id == Invoice.cancelled_by_id)
        .outerjoin(CancellationRequest, completed)
        .outerjoin(ProcessInstance, ProcessInstance.id == CancellationRequest.instance_id)
        .outerjoin(ProcessVersion, ProcessVersion.id == ProcessInstance.process_version_id)
        .where(Invoice.clinic_id == actor.clinic_id, Invoice.status == InvoiceStatus.CANCELLED)
    )
    if filters.q:
        query = query.where(invoice_matches(filters.q, dialect))
    if filters.day_from:
        query = query.where(Invoice.cancelled_at >= day_bounds_utc(filters.day_from, actor.timezone)[0])
    if filters.day_to:
        query = query.where(Invoice.cancelled_at < day_bounds_utc(filters.day_to, actor.timezone)[1])
    return query.order_by(Invoice.cancelled_at.desc(), Invoice.id.desc())


def _rows(session: Session, actor: Actor, results) -> list[CancelledRow]:
    runtime = runtime_of(session)
    versions: dict[int, ProcessVersion] = {}
    rows = []
    for invoice, full_name, username, reason, remarks, version_id in results:
        reason_name = ""
        if reason and version_id:
            if version_id not in versions:
                versions[version_id] = session.get(ProcessVersion, version_id)
            loaded = runtime.spec_of(versions[version_id])
            field = next((f for f in loaded.form(REQUEST_STEP).fields if f.id == "reason"), None)
            reason_name = field.option_name(reason) if field is not None else reason
        rows.append(
            CancelledRow(
                invoice.number,
                invoice.patient_name,
                invoice.patient_id,
                invoice.invoice_date,
                invoice.amount,
                invoice.clinic.currency,
                invoice.cancelled_at,
                f"{full_name} ({username})",
                reason_name or "",
                remarks or "",
                invoice.cancel_remarks or "",
            )  # fmt: skip
        )
    return rows


def cancelled_invoices(session: Session, actor: Actor, filters: CancelledFilters, page: int = 1) -> Page:
    """A page of the clinic's cancelled invoices, the latest cancelled first."""
    query = _query(actor, filters, session.get_bind().dialect.name)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    page = min(max(page, 1), max(1, -(-total // PER_PAGE)))
    results = session.execute(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return Page(_rows(session, actor, results), total, page, PER_PAGE)


CSV_HEADER_WORDS = (
    "Invoice No.", "Patient", "Patient ID", "Invoice date", "Amount", "Currency", "Cancelled at ({zone})",
    "Cancelled by", "Reason", "Request remarks", "Cancel remarks",
)  # fmt: skip


def _cell(value) -> str:
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text  # no formulas in spreadsheets


def export_csv(session: Session, actor: Actor, filters: CancelledFilters) -> Iterator[str]:
    zone = ZoneInfo(actor.timezone)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([h.format(zone=actor.timezone) for h in CSV_HEADER_WORDS])
    yield buffer.getvalue()
    results = session.execute(_query(actor, filters, session.get_bind().dialect.name).execution_options(yield_per=500))
    for part in results.partitions(500):
        buffer.seek(0)
        buffer.truncate()
        for r in _rows(session, actor, part):
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        r.number,
                        r.patient_name,
                        r.patient_id,
                        r.invoice_date.isoformat(),
                        r.amount,
                        r.currency,
                        r.cancelled_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                        r.cancelled_by,
                        r.reason,
                        r.request_remarks,
                        r.cancel_remarks,
                    )  # fmt: skip
                ]
            )
        yield buffer.getvalue()
