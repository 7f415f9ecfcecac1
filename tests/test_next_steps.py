"""Issue 15 (3. what happens next): after each SAVE the message says what it did and what follows, in the
diagram's words; a request that will need two approvals says so from the start, on its row and its review page
(stored on the request when the policy decides: lists load no workflow)."""

from __future__ import annotations

import html

from helpers import latest_request_id

from engine.db import unit_of_work
from engine.models import CancellationRequest

QUEUE = "/billing/financial-approval/"
BOTH = "Approver or Clinic administrator, then Clinic administrator"


def _stored(factory, number: str) -> tuple:
    with unit_of_work(factory, read_only=True) as s:
        r = s.get(CancellationRequest, latest_request_id(factory, number))
        return r.approvals_needed, r.approvals_left, r.approval_path


def _page(client, url: str) -> str:
    return html.unescape(client.get(url).text)


def test_a_request_needing_two_approvals_says_so_from_the_start_and_each_save_says_what_follows(
    web, demo, session_factory
):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "5000.00")  # approval_policy.dmn: 1,000.00 and more need two approvals
    requested = demo.request("billing", number)
    assert requested.message == (
        f"Request saved. Next: Review request (Approver or Clinic administrator). It needs 2 approvals: {BOTH}."
    )
    assert _stored(session_factory, number) == (2, 2, BOTH)
    approver = web("approver")
    assert f"Needs 2 approvals: {BOTH}" in _page(approver, QUEUE)
    review = f"{QUEUE}requests/{latest_request_id(session_factory, number)}"
    assert f"Needs 2 approvals: {BOTH}" in _page(approver, review)
    assert f"Needs 2 approvals: {BOTH}" in _page(web("billing"), "/billing/invoices")

    first = demo.decide("approver", number)
    assert first.message == "Approved. Next: Second approval (Clinic administrator)."
    assert _stored(session_factory, number) == (2, 1, "Clinic administrator")
    assert "Approval 2 of 2: Clinic administrator" in _page(web("admin"), QUEUE)

    second = demo.decide("admin", number)
    assert second.message == "Approved. Next: Cancel Invoice (Billing staff)."
    assert "Approval 2 of 2" not in _page(web("admin"), f"{QUEUE}?status=approved")
    assert demo.cancel("billing", number).message == f"Invoice {number} cancelled."


def test_one_approval_rejection_and_a_direct_clinic_say_what_happened(demo, session_factory):
    small, rejected = demo.invoice_numbers("NS")[1:3]
    outcome = demo.request("billing", small)
    assert outcome.message == "Request saved. Next: Review request (Approver or Clinic administrator)."
    assert _stored(session_factory, small) == (1, 1, "Approver or Clinic administrator")
    demo.request("billing", rejected)
    no = demo.decide("approver", rejected, "reject", "Two separate visits")
    assert no.message == f"Rejected: invoice {rejected} stays open."
    lakeside = demo.invoice_numbers("LS")[0]
    assert demo.cancel("lakeside", lakeside).message == f"Invoice {lakeside} cancelled."


def test_the_web_page_shows_the_next_step_after_save(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[3]
    billing = web("billing")
    page = billing.post(
        f"/billing/invoices/{number}/tasks/request_cancellation",
        {"reason": "duplicate", "remarks": "Billed twice"},
        follow_redirects=True,
    )
    assert "Request saved. Next: Review request (Approver or Clinic administrator)." in html.unescape(page.text)
