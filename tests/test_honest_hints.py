"""Issue 15 (4. honest hints): on an invoice whose request was rejected, withdrawn or terminated, the disabled
Cancel Invoice says what happened and what to do, not the words for an invoice never requested; the list shows
the remarks that ended it."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from helpers import latest_request_id, task_url
from sqlalchemy import select

from engine.days import format_day
from engine.db import unit_of_work
from engine.models import CancellationRequest, utcnow
from engine.reads import offers
from engine.usecases import instance_admin

NEVER = "Available later in the process: submit an Invoice Cancellation Request first."


def _cancel_hint(factory, demo, number: str) -> tuple[bool, str]:
    with unit_of_work(factory, read_only=True) as s:
        invoice = offers.get_invoice(s, demo.actor("billing"), number)
        cancel = next(
            a for a in offers.invoice_actions(s, demo.actor("billing"), invoice) if a.name == "Cancel Invoice"
        )
        return cancel.enabled, cancel.reason


def _today() -> str:
    return format_day(utcnow().astimezone(ZoneInfo("America/New_York")).date(), "en_US")  # Northside's zone, locale


def test_a_rejected_withdrawn_or_terminated_request_says_so_on_cancel_invoice(web, demo, session_factory):
    never, rejected, withdrawn, terminated = demo.invoice_numbers("NS")[:4]
    assert _cancel_hint(session_factory, demo, never) == (False, NEVER)
    for number in (rejected, withdrawn, terminated):
        demo.request("billing", number)
    demo.decide("approver", rejected, "reject", "Two separate visits")
    billing = web("billing")
    billing.post(task_url(withdrawn, "withdraw_review"), {"withdraw_remarks": "Paid after all"})
    with unit_of_work(session_factory) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, terminated)).instance_id
        instance_admin.terminate(s, demo.actor("admin"), instance_id, "Entered for the wrong clinic")

    new = "make a new Invoice Cancellation Request."
    assert _cancel_hint(session_factory, demo, rejected) == (
        False,
        f"The request was rejected by Arjun Approver on {_today()} (“Two separate visits”): {new}",
    )
    assert _cancel_hint(session_factory, demo, withdrawn) == (
        False,
        f"The request was withdrawn by Bella Billing on {_today()} (“Paid after all”): {new}",
    )
    enabled, hint = _cancel_hint(session_factory, demo, terminated)
    assert not enabled and hint.startswith("The request was terminated by ") and "Entered for the wrong clinic" in hint

    listing = html.unescape(billing.get("/billing/invoices").text)
    assert "— “Two separate visits”" in listing and "— “Paid after all”" in listing
    assert f"The request was rejected by Arjun Approver on {_today()}" in listing  # the menu's disabled item says it
    page = html.unescape(billing.get(f"/billing/invoices/{rejected}").text)
    assert f"The request was rejected by Arjun Approver on {_today()}" in page and NEVER not in page

    # A new request is possible, and then the hint is the one of an open request again.
    demo.request("billing", rejected)
    enabled, hint = _cancel_hint(session_factory, demo, rejected)
    assert not enabled and hint.startswith("Not available now: the cancellation is Requested")
    with unit_of_work(session_factory, read_only=True) as s:
        statuses = s.scalars(select(CancellationRequest.status).order_by(CancellationRequest.id)).all()
    assert statuses == ["rejected", "withdrawn", "terminated", "requested"]
