"""Bulk import of a clinic's invoices from a CSV file (the billing system's export): the same fields and rules as
PUT /api/invoices/{number}, row by row. Valid rows are imported, invalid rows are reported by line and field,
the same file again changes nothing; a dry run reports without writing.

The file is read in chunks: each chunk's existing invoices are read in one query and its new rows added
together, so 100,000 rows stay within a minute on SQLite (`make bench`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.roles import Role
from engine.accounts.users import Actor, actor_for_clinic
from engine.errors import Invalid
from engine.models import AuditEvent, Invoice, ProcessInstance
from engine.vocabulary import ACTIVE_INSTANCE_STATUSES, AuditAction, InvoiceStatus

from .blockers import judge
from .invoices import LABELS, NUMBER, check_invoice

HEADER = (
    "number",
    "patient_id",
    "patient_name",
    "invoice_date",
    "amount",
    "currency",
    "payment_status",
    "insurance_claim_status",
    "advance_applied",
)
CHUNK = 2000


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)  # "line 17: amount 'abc' is not an amount …"

    @property
    def summary(self) -> str:
        refused = len(self.problems)
        return (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{refused} refused."
        )


def _rows(data: bytes) -> Iterator[tuple[int, dict]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid({"file": f"The file is not UTF-8 (byte {exc.start + 1}): export it as UTF-8 CSV."}) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    found = tuple(h.strip() for h in (reader.fieldnames or ()))
    missing = [h for h in HEADER if h not in found]
    unknown = [h for h in found if h not in HEADER]
    if missing or unknown:
        wrong = "; ".join(
            part
            for part in (
                f"missing: {', '.join(missing)}" if missing else "",
                f"unknown: {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise Invalid({"file": f"The header row must name {', '.join(HEADER)} ({wrong})."})
    for row in reader:
        yield reader.line_num, {(k or "").strip(): (v or "").strip() for k, v in row.items()}


def import_invoices(
    session: Session, actor: Actor, data: bytes, source: str, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Import the CSV into the actor's clinic (the caller's unit of work commits it, or rolls back a dry run).
    `progress(n)` is called after each chunk with the rows done so far."""
    report = ImportReport()
    for done in import_in_steps(session, actor, data, source, report):
        if progress:
            progress(done)
    return report


def import_in_steps(session: Session, actor: Actor, data: bytes, source: str, report: ImportReport) -> Iterator[int]:
    """import_invoices one chunk at a time: yields the rows done so far after each chunk (and once at the end),
    filling `report`; a page streams its progress from these."""
    require(actor, Permission.IMPORT_INVOICES)
    tables: dict = {}  # the clinic's blockers table, each verdict computed once for the whole file
    seen: dict[str, int] = {}
    chunk: list[tuple[int, str, dict]] = []
    for line, row in _rows(data):
        report.rows += 1
        number = row.get("number", "")
        if not NUMBER.match(number):
            report.problems.append(f"line {line}: number {number!r} is not an invoice number")
            continue
        if number in seen:
            report.problems.append(f"line {line}: number {number} is already on line {seen[number]}")
            continue
        seen[number] = line
        body = dict(row)
        body.pop("number")
        if not body.get("advance_applied"):
            body.pop("advance_applied", None)
        chunk.append((line, number, body))
        if len(chunk) >= CHUNK:
            _import_chunk(session, actor, chunk, source, report, tables)
            chunk = []
            yield report.rows
    if chunk:
        _import_chunk(session, actor, chunk, source, report, tables)
    report.problems.sort(key=lambda p: int(p.split(":", 1)[0].removeprefix("line ")))  # in file order
    yield report.rows


def expected_rows(data: bytes) -> int:
    """About how many rows the file has (its lines but the header), for a progress bar."""
    return max(data.count(b"\n") - (0 if data.endswith(b"\n") else -1) - 1, 0)


def _import_chunk(session: Session, actor: Actor, chunk: list, source: str, report: ImportReport, tables: dict) -> None:
    numbers = [number for _line, number, _body in chunk]
    existing = {
        i.number: i
        for i in session.scalars(
            select(Invoice).where(Invoice.clinic_id == actor.clinic_id, Invoice.number.in_(numbers))
        )
    }
    busy = set(
        session.scalars(
            select(ProcessInstance.invoice_id).where(
                ProcessInstance.invoice_id.in_([i.id for i in existing.values()]),
                ProcessInstance.status.in_(ACTIVE_INSTANCE_STATUSES),
            )
        )
    )
    new_invoices: list[tuple[Invoice, dict]] = []
    for line, number, body in chunk:
        try:
            data = check_invoice(actor, body)
        except Invalid as exc:
            report.problems.extend(f"line {line}: {message}" for message in exc.errors.values())
            continue
        invoice = existing.get(number)
        if invoice is None:
            invoice = Invoice(clinic_id=actor.clinic_id, number=number, status=InvoiceStatus.OPEN, **data.__dict__)
            new_invoices.append((invoice, {k: [None, _shown(v)] for k, v in data.__dict__.items()}))
            continue
        changes = {
            k: [_shown(getattr(invoice, k)), _shown(v)] for k, v in data.__dict__.items() if getattr(invoice, k) != v
        }
        if not changes:
            report.unchanged += 1
        elif invoice.status == InvoiceStatus.CANCELLED:
            report.problems.append(f"line {line}: invoice {number} is cancelled here; undo the cancellation first")
        elif "amount" in changes and invoice.id in busy:
            report.problems.append(f"line {line}: invoice {number} has an open cancellation request: amount kept")
        else:
            for key in changes:
                setattr(invoice, key, getattr(data, key))
            judge(session, [invoice], tables)
            session.add(_event(actor, invoice, AuditAction.INVOICE_UPDATED, changes, source))
            report.updated += 1
    if new_invoices:
        judge(session, (invoice for invoice, _ in new_invoices), tables)
        session.add_all(invoice for invoice, _ in new_invoices)
        session.flush()
        session.add_all(_event(actor, i, AuditAction.INVOICE_RECEIVED, f, source) for i, f in new_invoices)
        report.created += len(new_invoices)
    session.flush()


def _shown(value) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _event(actor: Actor, invoice: Invoice, action: AuditAction, changes: dict, source: str) -> AuditEvent:
    details = {"source": source, "changes": [[LABELS[k], old, new] for k, (old, new) in changes.items()]}
    return AuditEvent(
        clinic_id=actor.clinic_id,
        invoice_id=invoice.id,
        actor_id=actor.user_id or None,
        action=action,
        details=json.dumps(details),
    )


def command_line_actor(session: Session, clinic_name: str) -> Actor:
    """Who imports from the command line: the clinic's billing-system connection, run by the installation's
    operator (history entries say "CSV import (command line)")."""
    actor = actor_for_clinic(session, clinic_name, "CSV import (command line)", frozenset({Role.INTEGRATION}))
    if actor is None:
        raise Invalid({"clinic": f"There is no clinic named {clinic_name}."})
    return actor
