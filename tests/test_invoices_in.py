"""Issue 11 (first part): invoices come from the billing system, PUT /api/invoices/{number} with an API key."""

from __future__ import annotations

import pytest
from helpers import Api, assert_error
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.models import AuditEvent, Invoice
from engine.usecases import integrations

BODY = {
    "patient_id": "P-7781",
    "patient_name": "Maria Tanaka",
    "invoice_date": "2026-11-30",
    "amount": "1200.50",
    "currency": "USD",
    "payment_status": "unpaid",
    "insurance_claim_status": "none",
    "advance_applied": "0.00",
}


@pytest.fixture
def billing_system(app, demo, session_factory):
    """The JSON API as Northside's billing system calls it: with an API key made by the clinic administrator."""
    with unit_of_work(session_factory) as s:
        _message, key, _id = integrations.create_key(s, demo.actor("admin"), "Billing system")
    return Api(app.test_client(), key)


def _history(session_factory, number: str) -> list[AuditEvent]:
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        return list(s.scalars(select(AuditEvent).where(AuditEvent.invoice_id == invoice.id).order_by(AuditEvent.id)))


def test_an_invoice_is_created_then_updated_and_the_same_body_changes_nothing(
    billing_system, api, session_factory, db_snapshot
):
    created = billing_system.client.put("/api/invoices/NS-EXT-1", json=BODY, headers=billing_system.headers())
    assert created.status_code == 201 and created.json["amount"] == "1200.50" and created.json["status"] == "open"
    staff = api("billing").get("/api/invoices/NS-EXT-1").json
    assert staff["patient_name"] == "Maria Tanaka" and staff["payment_status"] == "unpaid"
    assert staff["history"][0]["action"] == "invoice_received"
    assert staff["history"][0]["details"]["source"] == "Billing system (API key)"

    before = db_snapshot()
    same = billing_system.client.put("/api/invoices/NS-EXT-1", json=BODY, headers=billing_system.headers())
    assert same.status_code == 200 and same.json["changed"] == []
    assert db_snapshot() == before  # nothing written, no history entry

    paid = BODY | {"payment_status": "paid", "patient_name": "Maria  Tanaka-Ito"}
    changed = billing_system.client.put("/api/invoices/NS-EXT-1", json=paid, headers=billing_system.headers())
    assert changed.status_code == 200 and changed.json["changed"] == ["patient_name", "payment_status"]
    last = _history(session_factory, "NS-EXT-1")[-1]
    assert last.action == "invoice_updated"
    assert ["Payment status", "unpaid", "paid"] in last.details_dict["changes"]
    page = api("billing")  # the invoice page shows it too
    assert page.get("/api/invoices/NS-EXT-1").json["patient_name"] == "Maria Tanaka-Ito"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"amount": "-5.00"}, "amount", "is not an amount"),
        ({"amount": "12.345"}, "amount", "two decimal places"),
        ({"amount": 12.5}, "amount", "send a string"),
        ({"invoice_date": "2026-02-30"}, "invoice_date", "is not a date"),
        ({"currency": "EUR"}, "currency", "Northside Clinic bills in USD"),
        ({"payment_status": "settled"}, "payment_status", "is not one of: unpaid, partially_paid, paid"),
        ({"insurance_claim_status": "maybe"}, "insurance_claim_status", "is not one of"),
        ({"patient_name": "  "}, "patient_name", "is required"),
        ({"advance_applied": "2000.00"}, "advance_applied", "is more than the amount"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(billing_system, db_snapshot, change, field, words):
    before = db_snapshot()
    refused = billing_system.client.put("/api/invoices/NS-EXT-2", json=BODY | change, headers=billing_system.headers())
    assert_error(refused, 422, "invalid")
    assert words in refused.json["error"]["fields"][field]
    assert db_snapshot() == before


def test_an_open_request_keeps_the_amount_and_a_cancelled_invoice_keeps_everything(
    billing_system, demo, session_factory, db_snapshot
):
    number = demo.invoice_numbers("NS")[0]
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        current = BODY | {"patient_id": invoice.patient_id, "patient_name": invoice.patient_name,
                          "invoice_date": invoice.invoice_date.isoformat(), "amount": str(invoice.amount)}  # fmt: skip
    demo.request("billing", number)
    before = db_snapshot()
    bigger = billing_system.client.put(
        f"/api/invoices/{number}", json=current | {"amount": "9999.00"}, headers=billing_system.headers()
    )
    assert_error(bigger, 409, "conflict", "has an open cancellation request")
    assert db_snapshot() == before
    renamed = billing_system.client.put(
        f"/api/invoices/{number}", json=current | {"patient_name": "Renamed Patient"}, headers=billing_system.headers()
    )
    assert renamed.status_code == 200 and renamed.json["changed"] == ["patient_name"]  # other fields may change

    demo.decide("approver", number)
    demo.cancel("billing", number)
    before = db_snapshot()
    late = billing_system.client.put(
        f"/api/invoices/{number}", json=current | {"payment_status": "paid"}, headers=billing_system.headers()
    )
    assert_error(late, 409, "conflict", "undo the cancellation first")
    assert db_snapshot() == before


def test_only_an_api_key_sends_invoices(billing_system, api, db_snapshot):
    admin = api("admin")
    before = db_snapshot()
    staff = admin.client.put("/api/invoices/NS-EXT-3", json=BODY, headers=admin.headers())
    assert_error(staff, 403, "forbidden", "sent in by the clinic's billing system")
    assert billing_system.get("/api/invoices").status_code == 403  # a key reads no staff route
    assert db_snapshot() == before


def test_the_demo_prints_an_api_key_that_sends_invoices(database_url, tmp_path, app):
    import os
    import subprocess
    import sys

    env = os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "seed-demo"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    key = (tmp_path / "demo-api-key.txt").read_text().strip()
    assert key in done.stdout and oct((tmp_path / "demo-api-key.txt").stat().st_mode)[-3:] == "600"
    sent = app.test_client().put("/api/invoices/NS-EXT-9", json=BODY, headers={"Authorization": f"Bearer {key}"})
    assert sent.status_code == 201
    with unit_of_work(app.extensions["session_factory"], read_only=True) as s:  # blockers show in the demo
        blocked = s.scalars(select(Invoice.blocked_message).where(Invoice.blocked)).all()
        total = s.scalar(select(func.count(Invoice.id)))
    assert 0.2 * total < len(blocked) < 0.5 * total
    assert {"The invoice is paid: refund the payment before cancelling."} < set(blocked)
