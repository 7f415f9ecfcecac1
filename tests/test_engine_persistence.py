"""Database guarantees: append-only audit log, exact amounts, one active lifecycle per invoice."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from engine.db import unit_of_work
from engine.instances import history
from engine.models import AuditEvent, Invoice, ProcessInstance


@pytest.fixture
def requested(demo):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number, remarks="x")
    return number


@pytest.mark.parametrize(
    "statement",
    [update(AuditEvent).values(action="tampered"), delete(AuditEvent)],
    ids=["update", "delete"],
)
def test_audit_log_is_append_only_in_the_database(requested, session_factory, statement):
    with pytest.raises(DBAPIError, match="append-only"):
        with unit_of_work(session_factory) as s:
            s.execute(statement)
    with unit_of_work(session_factory) as s:
        assert {e.action for e in s.scalars(select(AuditEvent))} == {"task_completed", "approval_status"}


def test_amounts_are_exact_decimals(demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    with unit_of_work(session_factory) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        invoice.amount = Decimal("4999.99")
    with unit_of_work(session_factory) as s:
        stored = s.scalar(select(Invoice.amount).where(Invoice.number == number))
        cents = s.scalar(text("SELECT amount_cents FROM invoices WHERE number = :n"), {"n": number})
    assert stored == Decimal("4999.99") and isinstance(stored, Decimal) and cents == 499999
    with pytest.raises(StatementError, match="more than two decimal places"):
        with unit_of_work(session_factory) as s:
            s.execute(update(Invoice).values(amount=Decimal("1.005")))


def test_database_allows_one_active_instance_per_invoice(requested, session_factory):
    with pytest.raises(IntegrityError):
        with unit_of_work(session_factory) as s:
            existing = s.scalars(select(ProcessInstance)).one()
            s.add(
                ProcessInstance(
                    clinic_id=existing.clinic_id,
                    invoice_id=existing.invoice_id,
                    process_version_id=existing.process_version_id,
                    business_key=existing.business_key,
                    status="running",
                    state_json="{}",
                    started_by_id=existing.started_by_id,
                )
            )


def test_an_instance_stores_at_most_4_kb_of_state_at_every_step(demo, session_factory):
    """Issue 16 (3): the spec is stored once per version; what each instance stores is its own state, compressed."""
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "1500.00")  # two approvals: the longest path of the shipped diagram
    sizes = []

    def stored() -> int:
        with unit_of_work(session_factory, read_only=True) as s:
            invoice_id = s.scalar(select(Invoice.id).where(Invoice.number == number))
            raw = s.execute(
                text("SELECT state_json FROM process_instances WHERE invoice_id = :id"), {"id": invoice_id}
            ).scalar_one()
        assert bytes(raw)[:1] != b"{"  # not JSON text: compressed
        return len(raw)

    demo.request("billing", number)
    sizes.append(stored())
    demo.decide("approver", number)
    sizes.append(stored())
    demo.decide("admin", number)
    sizes.append(stored())
    outcome = demo.cancel("billing", number)
    sizes.append(stored())
    assert outcome.message.startswith("Invoice") and max(sizes) <= 4096, sizes


def test_history_rows_of_a_rolled_back_savepoint_are_forgotten_and_the_rest_kept(demo, session_factory):
    """History rows are written together at the next flush or commit (engine.instances.history): a savepoint that
    rolls back takes its own rows with it, never those recorded before it began, written or not."""

    def row(note: str) -> dict:
        return {"action": "timer_failed", "details": json.dumps({"note": note})}

    with unit_of_work(session_factory) as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    with unit_of_work(session_factory) as s:
        history.record(s, row("before the savepoint"))
        with pytest.raises(RuntimeError), s.begin_nested():
            history.record(s, row("inside, written"))
            history.write(s)  # as a flush inside the savepoint writes it
            history.record(s, row("inside, pending"))
            raise RuntimeError("the step failed")
        with s.begin_nested():
            history.record(s, row("inside a released savepoint"))
        history.record(s, row("after"))
    with unit_of_work(session_factory) as s:
        notes = [json.loads(e.details)["note"] for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert len(notes) == before + 3
    assert notes[before:] == ["inside a released savepoint", "before the savepoint", "after"]
