"""Issue 13 in a real browser: the approver's Home and the navigation's count, billing's My requests, and the
invoice list's status filter surviving a round trip to an invoice; Withdraw Request on the page and by the API."""

from __future__ import annotations

import re

from browsing import invoice_row, log_in, log_out, main_nav
from helpers import latest_request_id
from playwright.sync_api import Page, expect


def test_home_counts_my_requests_and_a_filter_that_survives_a_round_trip(page: Page, demo):
    numbers = demo.invoice_numbers("NS")
    for number in numbers[:3]:
        demo.request("billing", number, remarks="Billed twice")
    demo.decide("approver", numbers[0])

    log_in(page, "approver")
    expect(page.get_by_role("heading", level=1, name="Home")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Requests waiting for your decision \(2\)$"))).to_be_visible()
    expect(page.locator("#approvals-waiting")).to_have_text(re.compile(r"^2"))
    main_nav(page, "Invoice")
    expect(page.locator("#approvals-waiting")).to_have_text(re.compile(r"^2"))  # the count follows on every page
    log_out(page)

    log_in(page, "billing")
    mine = page.get_by_role("table", name="My requests")
    expect(mine.get_by_role("row")).to_have_count(4)  # the header and three requests
    expect(mine.get_by_role("row").filter(has_text=numbers[1])).to_contain_text("Review request")
    page.get_by_role("link", name=re.compile(r"^Approved — ready to Cancel Invoice \(1\)$")).click()
    expect(page).to_have_url(re.compile(r"approval=approved"))
    expect(page.get_by_label("Approval Status")).to_have_value("approved")
    invoice_row(page, numbers[0]).get_by_role("link", name=numbers[0], exact=True).click()
    expect(page.get_by_role("heading", level=1, name=f"Invoice {numbers[0]}")).to_be_visible()
    page.get_by_role("link", name="← Back to the invoice list").click()
    expect(page.get_by_label("Approval Status")).to_have_value("approved")
    expect(page.get_by_label("Status", exact=True)).to_have_value("open")
    expect(page.get_by_role("table", name="Invoices").get_by_role("row")).to_have_count(2)


def test_the_requester_withdraws_on_the_page_and_by_the_api_and_the_counts_drop(page: Page, demo, api, session_factory):
    numbers = demo.invoice_numbers("NS")[:3]
    for number in numbers:
        demo.request("billing", number)

    log_in(page, "billing")
    page.goto(f"/billing/invoices/{numbers[0]}")
    page.get_by_role("button", name="More Action").click()
    page.get_by_role("menuitem", name="Withdraw Request").click()
    expect(page.get_by_role("heading", level=1, name="Withdraw Request")).to_be_visible()
    page.get_by_label("Remarks").fill("The patient paid after all.")
    page.get_by_role("button", name="SAVE").click()
    row = invoice_row(page, numbers[0])
    expect(row).to_contain_text("Withdrawn")
    log_out(page)

    log_in(page, "approver")
    expect(page.locator("#approvals-waiting")).to_have_text(re.compile(r"^2"))  # only the other requests wait
    main_nav(page, "Financial Approval")
    expect(page.get_by_role("link", name=numbers[0], exact=True)).to_have_count(0)

    # The billing system withdraws the third request through the API: the approver's pages follow.
    request_id = latest_request_id(session_factory, numbers[2])
    done = api("billing").post(f"/api/cancellation-requests/{request_id}/withdraw", {"remarks": "Paid at the desk"})
    assert done.status_code == 200 and done.json["status"] == "withdrawn"
    page.reload()
    expect(page.locator("#approvals-waiting")).to_have_text(re.compile(r"^1"))
    expect(page.get_by_role("link", name=numbers[2], exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name=numbers[1], exact=True)).to_be_visible()
    main_nav(page, "Home")
    expect(page.get_by_role("link", name=re.compile(r"^Requests waiting for your decision \(1\)$"))).to_be_visible()
