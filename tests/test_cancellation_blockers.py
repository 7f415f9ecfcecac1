"""Issue 11 (blockers): what must be true before cancelling is decided by processes/cancellation_blockers.dmn.

The verdict is stored on the invoice when the billing system writes it (and refreshed when a new table is
deployed), so lists, the More Action menu and the review page show it without evaluating anything; SAVE of a
request and Cancel Invoice evaluate the table again in their own transaction and refuse with its message.
"""

from __future__ import annotations

import html
import re

import pytest
from helpers import Api, assert_error, copy_with, review_url, row_of, task_url, upload
from sqlalchemy import select, update

from engine.db import unit_of_work
from engine.errors import Blocked, Invalid
from engine.models import Invoice
from engine.usecases import deployments, integrations, invoice_import

BLOCKERS = "cancellation_blockers.dmn"
PAID = "The invoice is paid: refund the payment before cancelling."
CLAIMED = "A claim for this invoice is with the insurer: withdraw the claim before cancelling."


@pytest.fixture
def billing_system(app, demo, session_factory):
    with unit_of_work(session_factory) as s:
        _message, key, _id = integrations.create_key(s, demo.actor("admin"), "Billing system")
    return Api(app.test_client(), key)


def send(billing_system, session_factory, number: str, **change) -> dict:
    """The billing system sends the invoice as it is, with `change` (payment_status=..., ...)."""
    with unit_of_work(session_factory, read_only=True) as s:
        i = s.scalar(select(Invoice).where(Invoice.number == number))
        body = {
            "patient_id": i.patient_id,
            "patient_name": i.patient_name,
            "invoice_date": i.invoice_date.isoformat(),
            "amount": str(i.amount),
            "currency": i.clinic.currency,
            "payment_status": i.payment_status,
            "insurance_claim_status": i.claim_status,
            "advance_applied": str(i.advance_applied),
        }
    sent = billing_system.client.put(f"/api/invoices/{number}", json=body | change, headers=billing_system.headers())
    assert sent.status_code == 200, sent.json
    return sent.json


def stored(session_factory, number: str) -> tuple:
    with unit_of_work(session_factory, read_only=True) as s:
        i = s.scalar(select(Invoice).where(Invoice.number == number))
        return i.blocked, i.blocked_message, i.approval_status, i.status


def test_a_paid_invoice_shows_why_and_its_request_is_refused_with_nothing_written(
    billing_system, demo, web, api, session_factory, db_snapshot
):
    number = demo.invoice_numbers("NS")[2]
    answer = send(billing_system, session_factory, number, payment_status="paid")
    assert answer["cancellation_blockers"]["blocked"] is True
    assert answer["cancellation_blockers"]["message"] == PAID
    assert answer["cancellation_blockers"]["decided_by"]["process"] == "invoice_cancellation_request"

    billing = web("billing")
    row = row_of(billing.get("/billing/invoices", query_string={"q": number}).text, number)
    assert "Blocked" in row and html.escape(PAID, quote=True) in row  # the list's badge says why on hover
    page = billing.get(f"/billing/invoices/{number}").text
    assert "Blocked" in page and PAID in page
    item = re.search(r'aria-disabled="true" aria-describedby="why-request_cancellation".*?</li>', page, re.S)
    assert item and PAID in item.group(0)  # More Action: disabled, with the table's message
    staff = api("billing")
    listed = staff.get("/api/invoices", query_string={"q": number}).json["items"][0]
    assert listed["allowed_actions"] == [] and listed["cancellation_blockers"]["blocked"] is True

    before = db_snapshot()
    refused = billing.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "Twice"})
    assert refused.status_code == 409 and PAID in refused.text
    by_api = staff.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "duplicate", "remarks": "Twice"})
    assert_error(by_api, 409, "blocked", PAID)
    assert db_snapshot() == before


def test_save_evaluates_the_table_itself_even_when_the_stored_verdict_is_stale(demo, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[3]
    with unit_of_work(session_factory) as s:  # written behind the product's back: the stored verdict says "free"
        s.execute(update(Invoice).where(Invoice.number == number).values(claim_status="submitted"))
    assert stored(session_factory, number)[0] is False
    before = db_snapshot()
    with pytest.raises(Blocked, match="withdraw the claim before cancelling"):
        demo.request("billing", number)
    assert db_snapshot() == before


def test_cancel_invoice_is_checked_again_after_approval(billing_system, demo, web, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[4]
    demo.request("billing", number)
    send(billing_system, session_factory, number, insurance_claim_status="submitted")
    assert stored(session_factory, number)[:2] == (True, CLAIMED)

    review = web("approver").get(review_url(session_factory, number)).text
    assert "If you approve, Cancel Invoice stays refused until this is done." in review and CLAIMED in review
    demo.decide("approver", number)  # deciding is allowed: the warning said what follows

    billing = web("billing")
    page = billing.get(f"/billing/invoices/{number}").text
    item = re.search(r'aria-describedby="why-cancel_invoice".*?</li>', page, re.S)
    assert item and CLAIMED in item.group(0)
    before = db_snapshot()
    refused = billing.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "As approved"})
    assert refused.status_code == 409 and CLAIMED in refused.text
    assert db_snapshot() == before and stored(session_factory, number)[2:] == ("approved", "open")

    send(billing_system, session_factory, number, insurance_claim_status="none")  # the claim was withdrawn
    assert stored(session_factory, number)[:2] == (False, None)
    assert billing.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "As approved"}).status_code == 302
    assert stored(session_factory, number)[3] == "cancelled"


def test_a_direct_clinic_refuses_cancel_invoice_of_an_invoice_with_an_advance(demo, web, session_factory, db_snapshot):
    number = demo.invoice_numbers("LS")[1]
    with unit_of_work(session_factory) as s:
        s.execute(update(Invoice).where(Invoice.number == number).values(advance_applied=50))
    before = db_snapshot()
    refused = web("lakeside").post(task_url(number, "cancel_invoice"), {"cancel_remarks": "Duplicate"})
    assert refused.status_code == 409 and "A patient advance was applied to this invoice" in refused.text
    assert db_snapshot() == before


def test_an_analyst_changes_the_table_without_code_and_the_stored_verdicts_follow(
    billing_system, demo, web, api, session_factory
):
    number = demo.invoice_numbers("NS")[5]
    send(billing_system, session_factory, number, insurance_claim_status="submitted")
    assert stored(session_factory, number)[0] is True

    # In a copy of processes/: a claim with the insurer no longer blocks.
    changed = copy_with(
        BLOCKERS,
        ('"rule_claim_submitted_blocked"><text>True</text>', '"rule_claim_submitted_blocked"><text>False</text>'),
        (f"<text>\"{CLAIMED}\"</text>", "<text></text>"),
    )  # fmt: skip
    assert upload(web("analyst"), BLOCKERS, changed).status_code == 302
    assert stored(session_factory, number)[:2] == (False, None)  # refreshed by the deploy, in its transaction
    verdict = api("billing").get(f"/api/invoices/{number}").json["cancellation_blockers"]
    assert verdict == {
        "blocked": False,
        "message": None,
        "decided_by": {"process": "invoice_cancellation_request", "version": 2},
    }
    outcome = demo.request("billing", number)
    assert outcome.message.startswith("Request saved") and stored(session_factory, number)[2] == "requested"


def test_a_table_that_leaves_an_invoice_undecided_is_not_deployed(demo, session_factory, db_snapshot):
    gap = copy_with(BLOCKERS, ('"rule_paid_payment"><text>"paid"</text>', '"rule_paid_payment"><text>"payd"</text>'))
    before = db_snapshot()
    with pytest.raises(Invalid) as refused, unit_of_work(session_factory) as s:
        deployments.deploy(s, demo.actor("analyst"), BLOCKERS, gap)
    message = refused.value.errors["file"]
    assert (
        "check_blockers_request: cancellation_blockers: no rule of the table matches payment_status 'paid'" in message
    )
    assert db_snapshot() == before


def test_the_csv_import_stores_each_invoices_verdict(demo, session_factory):
    header = "number,patient_id,patient_name,invoice_date,amount,currency,payment_status,insurance_claim_status,advance_applied\n"  # noqa: E501
    rows = (
        "NS-CSV-1,P1,Ana Lima,2026-11-02,120.00,USD,paid,none,0.00\n"
        "NS-CSV-2,P2,Bo Chen,2026-11-02,80.00,USD,unpaid,accepted,0.00\n"
        "NS-CSV-3,P3,Cy Diaz,2026-11-02,60.00,USD,unpaid,none,0.00\n"
    )
    with unit_of_work(session_factory) as s:
        actor = invoice_import.command_line_actor(s, "Northside Clinic")
        report = invoice_import.import_invoices(s, actor, (header + rows).encode(), "CSV import (test)")
    assert report.created == 3 and not report.problems
    assert stored(session_factory, "NS-CSV-1")[:2] == (True, PAID)
    assert (
        stored(session_factory, "NS-CSV-2")[0] is True and "insurer accepted" in stored(session_factory, "NS-CSV-2")[1]
    )
    assert stored(session_factory, "NS-CSV-3")[:2] == (False, None)
