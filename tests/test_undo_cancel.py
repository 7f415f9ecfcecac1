"""Issue 12: Undo Cancel, a process of its own (processes/invoice_undo_cancel.bpmn) offered on cancelled invoices:
approved by a clinic administrator on Financial Approval in an approval-based clinic, at once in a direct one;
the invoice is Open again with the same number, the history shows every step, and events go out."""

from __future__ import annotations

import re

from helpers import Api, assert_error, latest_request_id, task_url
from sqlalchemy import select

from engine.db import unit_of_work
from engine.events.worker import deliver_due
from engine.models import Invoice
from engine.usecases import integrations

UNDO = "undo_cancel"


def _invoice(session_factory, number: str) -> Invoice:
    with unit_of_work(session_factory, read_only=True) as s:
        found = s.scalar(select(Invoice).where(Invoice.number == number))
        s.expunge(found)
        return found


def _events(app, demo, session_factory) -> list[tuple[str, str]]:
    with unit_of_work(session_factory) as s:
        key = integrations.create_key(s, demo.actor("admin"), "Feed reader")[1]
    feed = Api(app.test_client(), key).get("/api/events", query_string={"limit": 500}).json["events"]
    return [(e["event"]["subject"], e["event"]["type"].rsplit(".", 1)[-1]) for e in feed]


def test_an_approval_clinic_undoes_a_cancellation_after_a_clinic_administrators_approval(
    web, demo, app, session_factory, db_snapshot
):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    demo.decide("approver", number)
    demo.cancel("billing", number, "Reversed")

    billing = web("billing")
    page = billing.get(f"/billing/invoices/{number}").text
    assert re.search(r'<a[^>]*role="menuitem"[^>]*>Undo Cancel</a>', page)  # More Action on the cancelled invoice
    refused = billing.post(task_url(number, UNDO), {"undo_remarks": ""})
    assert refused.status_code == 422 and "Remarks is required" in refused.text
    assert billing.post(task_url(number, UNDO), {"undo_remarks": "Cancelled the wrong invoice"}).status_code == 302
    assert _invoice(session_factory, number).status == "cancelled"  # until a clinic administrator approves

    request_id = latest_request_id(session_factory, number)
    review = f"/billing/financial-approval/requests/{request_id}"
    assert "Undo the cancellation" in web("admin").get("/billing/financial-approval/").text
    approver = web("approver")
    before = db_snapshot()
    assert approver.post(review, {"decision": "approve"}).status_code == 403  # the lane is Clinic administrator
    assert db_snapshot() == before
    admin = web("admin")
    assert "Undo cancellation request for invoice" in admin.get(review).text
    assert admin.post(review, {"decision": "approve", "decision_remarks": "Agreed"}).status_code == 302

    invoice = _invoice(session_factory, number)
    assert (invoice.status, invoice.number, invoice.cancelled_at, invoice.approval_status) == (
        "open",
        number,
        None,
        None,
    )
    page = billing.get(f"/billing/invoices/{number}").text
    assert "Undo of the cancellation requested" in page and "Cancelled the wrong invoice" in page
    assert "Invoice status: Open" in page
    assert re.search(r'<a[^>]*role="menuitem"[^>]*>Invoice Cancellation Request</a>', page)  # may be requested again
    assert number not in billing.get("/billing/cancelled").text
    assert _events(app, demo, session_factory)[-3:] == [
        (number, "undo_requested"),
        (number, "undo_approved"),
        (number, "undone"),
    ]


def test_a_direct_clinic_undoes_at_once_and_the_api_offers_it(app, demo, api, session_factory, db_snapshot):
    number = demo.invoice_numbers("LS")[0]
    demo.cancel("lakeside", number, "Duplicate")
    lee = api("lakeside")
    listed = lee.get("/api/invoices", query_string={"q": number}).json["items"][0]
    assert listed["status"] == "cancelled" and listed["allowed_actions"] == ["undo_cancel"]
    undone = lee.post(f"/api/invoices/{number}/undo-cancel", {"remarks": "Not a duplicate after all"})
    assert undone.status_code == 200 and undone.json["status"] == "open"
    assert undone.json["cancellation_request"]["kind"] == "undo"
    assert "request_cancellation" in undone.json["allowed_actions"] or "cancel" in undone.json["allowed_actions"]

    before = db_snapshot()
    again = lee.post(f"/api/invoices/{number}/undo-cancel", {"remarks": "twice"})
    assert_error(again, 409, "conflict", "is not cancelled: there is nothing to undo")
    assert db_snapshot() == before


def test_a_rejected_undo_leaves_the_invoice_cancelled(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    demo.decide("approver", number)
    demo.cancel("billing", number)
    billing = web("billing")
    billing.post(task_url(number, UNDO), {"undo_remarks": "Please reopen"})
    review = f"/billing/financial-approval/requests/{latest_request_id(session_factory, number)}"
    admin = web("admin")
    refused = admin.post(review, {"decision": "reject", "decision_remarks": ""})
    assert refused.status_code == 422 and "Remarks is required when Decision is Reject" in refused.text
    assert admin.post(review, {"decision": "reject", "decision_remarks": "The ledger is closed"}).status_code == 302
    invoice = _invoice(session_factory, number)
    assert invoice.status == "cancelled" and invoice.approval_status == "approved"  # as the cancellation left it
    assert number in billing.get("/billing/cancelled").text
    page = billing.get(f"/billing/invoices/{number}").text
    assert "Undo of the cancellation rejected" in page and "The ledger is closed" in page
    assert re.search(r'<a[^>]*role="menuitem"[^>]*>Undo Cancel</a>', page)  # may be asked again
    assert deliver_due(session_factory) == 0  # no webhook set: nothing to deliver, events are in the feed
