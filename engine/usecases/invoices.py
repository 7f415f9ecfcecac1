"""Invoices come from the clinic's billing system: PUT /api/invoices/{number} creates or updates one.

The same body again changes nothing (no write, no history); each real change is kept in the invoice's history
(what changed, from which system, when). An invoice with an open cancellation keeps its amount, and a cancelled
invoice keeps everything: the billing system is told so (Conflict) and nothing is written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.errors import Conflict, Invalid
from engine.instances import lifecycle
from engine.models import AuditEvent, Invoice
from engine.reads.offers import active_instance
from engine.vocabulary import AuditAction, ClaimStatus, InvoiceStatus, PaymentStatus

from .blockers import judge

NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
AMOUNT = re.compile(r"^[0-9]{1,10}\.[0-9]{2}$")

# field -> what a person reads in the history
LABELS = {
    "patient_id": "Patient ID",
    "patient_name": "Patient",
    "invoice_date": "Invoice date",
    "amount": "Amount",
    "payment_status": "Payment status",
    "claim_status": "Insurance claim status",
    "advance_applied": "Advance applied",
}


@dataclass(frozen=True)
class InvoiceData:
    """An invoice as the billing system sends it, checked."""

    patient_id: str
    patient_name: str
    invoice_date: date
    amount: Decimal
    payment_status: str
    claim_status: str
    advance_applied: Decimal


def _text(body: dict, name: str, limit: int, errors: dict) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        errors[name] = f"{name} is required: a text of at most {limit} characters."
        return ""
    value = " ".join(value.split())
    if len(value) > limit:
        errors[name] = f"{name} has {len(value)} characters: at most {limit}."
    return value


def _amount(body: dict, name: str, errors: dict, required: bool = True) -> Decimal:
    value = body.get(name)
    if value is None and not required:
        return Decimal("0.00")
    if not isinstance(value, str) or not AMOUNT.match(value):
        errors[name] = f'{name} {value!r} is not an amount: send a string with two decimal places, e.g. "120.50".'
        return Decimal("0.00")
    return Decimal(value)


def _choice(body: dict, name: str, allowed, default: str, errors: dict) -> str:
    value = body.get(name, default)
    if value not in {str(a) for a in allowed}:
        errors[name] = f"{name} {value!r} is not one of: {', '.join(str(a) for a in allowed)}."
        return default
    return value


def check_invoice(actor: Actor, body: dict) -> InvoiceData:
    """The body checked field by field (Invalid names each wrong field and says what to send)."""
    errors: dict[str, str] = {}
    patient_id = _text(body, "patient_id", 40, errors)
    patient_name = _text(body, "patient_name", 200, errors)
    raw_date = body.get("invoice_date")
    try:
        invoice_date = date.fromisoformat(raw_date) if isinstance(raw_date, str) and len(raw_date) == 10 else None
    except ValueError:  # a day that does not exist, e.g. 2026-02-30
        invoice_date = None
    if invoice_date is None:
        errors["invoice_date"] = f"invoice_date {raw_date!r} is not a date: send YYYY-MM-DD (in {actor.timezone})."
    amount = _amount(body, "amount", errors)
    currency = body.get("currency")
    if currency != actor.currency:
        errors["currency"] = (
            f"currency {currency!r} is not the clinic's: {actor.clinic_name} bills in {actor.currency}."
        )
    payment = _choice(body, "payment_status", PaymentStatus, PaymentStatus.UNPAID, errors)
    claim = _choice(body, "insurance_claim_status", ClaimStatus, ClaimStatus.NONE, errors)
    advance = _amount(body, "advance_applied", errors, required=False)
    if "amount" not in errors and "advance_applied" not in errors and advance > amount:
        errors["advance_applied"] = f"advance_applied {advance} is more than the amount {amount}."
    if errors:
        raise Invalid(errors)
    return InvoiceData(patient_id, patient_name, invoice_date, amount, payment, claim, advance)


@dataclass(frozen=True)
class Upserted:
    invoice: Invoice
    created: bool
    changes: dict[str, list]  # field -> [old, new]


def upsert_invoice(session: Session, actor: Actor, number: str, body: dict) -> Upserted:
    """Create or update the invoice `number` of the actor's clinic from the billing system's body."""
    require(actor, Permission.SEND_INVOICES)
    if not NUMBER.match(number or ""):
        raise Invalid({"number": "An invoice number is 1-40 letters, digits, dots, dashes, slashes or underscores."})
    data = check_invoice(actor, body)
    invoice = lifecycle.lock_invoice(session, clinic_id=actor.clinic_id, number=number)
    source = actor.full_name
    if invoice is None:
        invoice = Invoice(clinic_id=actor.clinic_id, number=number, status=InvoiceStatus.OPEN, **data.__dict__)
        session.add(invoice)
        judge(session, [invoice])
        session.flush()
        fields = {k: [None, _shown(v)] for k, v in data.__dict__.items()}
        _history(session, actor, invoice, AuditAction.INVOICE_RECEIVED, fields, source)
        return Upserted(invoice, True, fields)
    changes = {
        k: [_shown(getattr(invoice, k)), _shown(v)] for k, v in data.__dict__.items() if getattr(invoice, k) != v
    }
    if not changes:
        return Upserted(invoice, False, {})
    if invoice.status == InvoiceStatus.CANCELLED:
        raise Conflict(f"Invoice {number} is cancelled here; undo the cancellation first, then send the change.")
    if "amount" in changes and active_instance(session, invoice) is not None:
        raise Conflict(
            f"Invoice {number} has an open cancellation request: its amount stays {invoice.amount} until the "
            "request is decided or withdrawn."
        )
    for key in changes:
        setattr(invoice, key, getattr(data, key))
    judge(session, [invoice])
    _history(session, actor, invoice, AuditAction.INVOICE_UPDATED, changes, source)
    return Upserted(invoice, False, changes)


def _shown(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _history(session: Session, actor: Actor, invoice: Invoice, action: AuditAction, changes: dict, source: str):
    details = {
        "source": source,
        "changes": [[LABELS[k], old, new] for k, (old, new) in changes.items()],
    }
    session.add(
        AuditEvent(
            clinic_id=invoice.clinic_id,
            invoice_id=invoice.id,
            actor_id=actor.user_id,
            action=action,
            details=json.dumps(details),
        )
    )
