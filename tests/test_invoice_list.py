"""Issue 13 (first part): the invoice list filters by invoice and approval status and sorts by date, number or
amount; the filters are in the URL, so they survive going to an invoice and back."""

from __future__ import annotations

import re

from helpers import assert_error


def _numbers(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-number="([^"]+)"', html)


def test_filters_and_order_survive_a_round_trip_to_an_invoice(web, demo, api):
    numbers = demo.invoice_numbers("NS")
    demo.request("billing", numbers[0])
    demo.request("billing", numbers[1])
    demo.decide("approver", numbers[1])
    demo.request("billing", numbers[2])
    demo.decide("approver", numbers[2])
    demo.cancel("billing", numbers[2])
    billing = web("billing")

    approved = billing.get("/billing/invoices", query_string={"approval": "approved", "status": "open"}).text
    assert _numbers(approved) == [numbers[1]]  # approved, still open: ready for Cancel Invoice
    assert _numbers(billing.get("/billing/invoices", query_string={"status": "cancelled"}).text) == [numbers[2]]
    requested = billing.get("/billing/invoices", query_string={"approval": "requested"}).text
    assert _numbers(requested) == [numbers[0]]
    never = _numbers(billing.get("/billing/invoices", query_string={"approval": "none"}).text)
    assert numbers[0] not in never and numbers[3] in never

    by_amount = _numbers(billing.get("/billing/invoices", query_string={"sort": "-amount"}).text)
    assert by_amount[0] == numbers[-1]  # the demo's amounts grow with the number
    assert _numbers(billing.get("/billing/invoices", query_string={"sort": "number"}).text)[0] == numbers[0]

    # The invoice link carries the list's filters; its page links back to the same list.
    link = re.search(r'href="(/billing/invoices/' + numbers[1] + r'\?back=[^"]+)"', approved).group(1)
    page = billing.get(link.replace("&amp;", "&")).text
    back = re.search(r'<a href="([^"]+)">← Back to the invoice list</a>', page).group(1).replace("&amp;", "&")
    assert "approval=approved" in back and "status=open" in back
    assert _numbers(billing.get(back).text) == [numbers[1]]

    refused = billing.get("/billing/invoices", query_string={"approval": "maybe", "sort": "colour"})
    assert refused.status_code == 422 and "Approval Status must be one of" in refused.text
    assert "Sort by one of" in refused.text

    staff = api("billing")
    listed = staff.get("/api/invoices", query_string={"approval": "approved", "status": "open"}).json
    assert [i["number"] for i in listed["items"]] == [numbers[1]]
    assert_error(staff.get("/api/invoices", query_string={"sort": "size"}), 422, "invalid", "Sort by one of")
