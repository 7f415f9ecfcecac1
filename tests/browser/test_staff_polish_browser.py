"""Issue "Polish" (3, 4, 5 and 8) in a real browser, as staff click through it: each SAVE says what follows, a
request needing two approvals says so from the start, a rejected request's hint says who, when and why,
Financial Approval explains one's own request and keeps its table on a bad date range, and the invoice list
works from the keyboard.

The engine-level twins of these tests are tests/test_next_steps.py, tests/test_honest_hints.py and
tests/test_financial_approval_filters.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from browsing import (
    INVOICE_LIST,
    cell,
    invoice_row,
    log_in,
    log_out,
    main_nav,
    open_more_action,
    search_invoice,
    select_row,
)
from playwright.sync_api import Locator, Page, expect

from engine.days import format_day

FIRST = "Approver or Clinic administrator"
BOTH = f"{FIRST}, then Clinic administrator"
SAVED = f"Request saved. Next: Review request ({FIRST})."
NEVER = "Available later in the process: submit an Invoice Cancellation Request first."
QUEUE = re.compile(r"/billing/financial-approval/(\?.*)?$")
DAY_TIME = r"\d{1,2}/\d{1,2}/\d{4} \d{2}:\d{2}"  # a moment as an en_US clinic's pages write it


# ---------------------------------------------------------------- helpers: what a person does


def expect_flash(page: Page, message: str) -> None:
    """The page says `message`, exactly, as a status message (a flash after SAVE, or a hint)."""
    shown = page.get_by_text(message, exact=True)
    expect(shown).to_be_visible()
    expect(shown).to_have_attribute("role", "status")


def menu_item(menu: Locator, name: str, enabled: bool) -> Locator:
    # A disabled item's accessible name is its label followed by why it is disabled.
    item = menu.get_by_role("menuitem", name=re.compile(rf"^{re.escape(name)}(\s|$)"))
    expect(item).to_have_count(1)
    if enabled:
        expect(item).to_have_attribute("href", re.compile(r"/billing/invoices/.+/tasks/"))
        expect(item).to_be_enabled()
    else:
        expect(item).to_have_attribute("aria-disabled", "true")
        expect(item).to_be_disabled()
    return item


def request_cancellation(page: Page, number: str, remarks: str = "Billed twice for the same visit.") -> None:
    """Home > Billing > Invoice, select the row, More Action > Invoice Cancellation Request, fill it in, SAVE."""
    select_row(search_invoice(page, number))
    menu_item(open_more_action(page), "Invoice Cancellation Request", enabled=True).click()
    expect(page.get_by_role("heading", level=1, name="Invoice Cancellation Request")).to_be_visible()
    page.get_by_label("Reason").select_option(label="Duplicate invoice")
    page.get_by_label("Remarks").fill(remarks)
    page.get_by_role("button", name="SAVE").click()
    expect(page).to_have_url(INVOICE_LIST)


def financial_approval(page: Page) -> Locator:
    main_nav(page, "Financial Approval")
    expect(page).to_have_url(QUEUE)
    return page.get_by_role("table", name="Cancellation requests")


def request_row(page: Page, number: str) -> Locator:
    table = page.get_by_role("table", name="Cancellation requests")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    return row


def decide(page: Page, number: str, decision: str, remarks: str = "") -> None:
    """Financial Approval > the request's Review > Approve or Reject (with remarks) > SAVE."""
    financial_approval(page)
    request_row(page, number).get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancellation request for invoice {number}")
    page.get_by_role("radio", name=decision).check()
    if remarks:
        page.get_by_label("Remarks").fill(remarks)
    page.get_by_role("button", name="SAVE").click()
    expect(page).to_have_url(QUEUE)


def filter_requests(page: Page, **fields: str) -> None:
    """Fill Financial Approval's filters (status=label, number, date_from, date_to) and press Search."""
    form = page.get_by_role("search")
    if "status" in fields:
        form.get_by_label("Approval Status").select_option(label=fields["status"])
    if "number" in fields:
        form.get_by_label("Invoice No.").fill(fields["number"])
    if "date_from" in fields:
        form.get_by_label("From", exact=True).fill(fields["date_from"])
    if "date_to" in fields:
        form.get_by_label("To", exact=True).fill(fields["date_to"])
    form.get_by_role("button", name="Search").click()


def today(demo, username: str) -> str:
    """Today in the user's clinic's time zone, as the pages write a day."""
    actor = demo.actor(username)
    return format_day(datetime.now(ZoneInfo(actor.timezone)).date(), actor.locale)  # as the clinic writes days


# ---------------------------------------------------------------- 3. what happens next


def test_two_approval_request_says_each_next_step_from_request_to_cancel(page: Page, demo):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "5000.00")  # approval_policy.dmn: 1,000.00 and more need two approvals

    log_in(page, "billing")
    expect(cell(search_invoice(page, number), "Amount")).to_contain_text("5,000.00")
    request_cancellation(page, number)
    expect_flash(page, f"{SAVED} It needs 2 approvals: {BOTH}.")
    row = invoice_row(page, number)
    expect(cell(row, "Approval Status")).to_contain_text(f"Needs 2 approvals: {BOTH}")
    expect(cell(row, "Status")).to_have_text("Open")
    log_out(page)

    log_in(page, "approver")
    financial_approval(page)
    status = cell(request_row(page, number), "Approval Status")
    expect(status.get_by_text(f"Needs 2 approvals: {BOTH}", exact=True)).to_be_visible()
    request_row(page, number).get_by_role("link", name="Review").click()
    expect(page.get_by_text(f"Needs 2 approvals: {BOTH}", exact=True)).to_be_visible()
    decide(page, number, "Approve")
    expect_flash(page, "Approved. Next: Second approval (Clinic administrator).")
    # The approver has decided: the second approval is not theirs, so the request left their list.
    expect(page.get_by_role("link", name=number, exact=True)).to_have_count(0)
    log_out(page)

    log_in(page, "admin")
    financial_approval(page)
    status = cell(request_row(page, number), "Approval Status")
    expect(status.get_by_text("Approval 2 of 2: Clinic administrator", exact=True)).to_be_visible()
    expect(status).not_to_contain_text("Needs 2 approvals")
    decide(page, number, "Approve")
    expect_flash(page, "Approved. Next: Cancel Invoice (Billing staff).")
    log_out(page)

    log_in(page, "billing")
    row = search_invoice(page, number)
    expect(cell(row, "Approval Status")).to_have_text("Approved")  # no approvals note once decided
    expect(cell(row, "Status")).to_have_text("Open")  # approved is not cancelled: billing still does that
    select_row(row)
    menu_item(open_more_action(page), "Cancel Invoice", enabled=True).click()
    page.get_by_label("Remarks").fill("Voided in the ledger.")
    page.get_by_role("button", name="SAVE").click()
    expect(page).to_have_url(INVOICE_LIST)
    expect_flash(page, f"Invoice {number} cancelled.")
    expect(cell(invoice_row(page, number), "Status")).to_have_text("Cancelled")


def test_one_approval_request_says_only_the_review_follows(page: Page, demo):
    number = demo.invoice_numbers("NS")[1]  # below 1,000.00 (tests/conftest.py): one approval

    log_in(page, "billing")
    request_cancellation(page, number)
    expect_flash(page, SAVED)  # exactly: no "It needs 2 approvals"
    expect(page.get_by_text("approvals:")).to_have_count(0)
    log_out(page)

    log_in(page, "approver")
    financial_approval(page)
    expect(cell(request_row(page, number), "Approval Status")).not_to_contain_text("approvals")


# ---------------------------------------------------------------- 4. honest hints


def test_rejected_request_says_who_rejected_it_when_and_why_on_cancel_invoice(page: Page, demo):
    number = demo.invoice_numbers("NS")[2]
    remarks = "Two separate visits"

    log_in(page, "billing")
    request_cancellation(page, number)
    log_out(page)

    log_in(page, "approver")
    decide(page, number, "Reject", remarks)
    expect_flash(page, f"Rejected: invoice {number} stays open.")
    log_out(page)

    log_in(page, "billing")
    row = search_invoice(page, number)
    expect(cell(row, "Approval Status")).to_have_text(f"Rejected — “{remarks}”")
    expect(cell(row, "Status")).to_have_text("Open")  # a rejection cancels nothing
    select_row(row)
    menu = open_more_action(page)
    hint = (
        f"The request was rejected by Arjun Approver on {today(demo, 'billing')} (“{remarks}”): "
        "make a new Invoice Cancellation Request."
    )
    cancel = menu_item(menu, "Cancel Invoice", enabled=False)
    expect(menu.get_by_text(hint, exact=True)).to_be_visible()
    expect(cancel).to_have_accessible_description(hint)
    expect(menu.get_by_text(NEVER)).to_have_count(0)  # not the words for an invoice never requested

    # The hint's advice works: a new request can be made, and the old remarks leave the row.
    menu_item(menu, "Invoice Cancellation Request", enabled=True)
    page.keyboard.press("Escape")
    request_cancellation(page, number, "Second try: it was billed twice after all.")
    expect_flash(page, SAVED)
    status = cell(invoice_row(page, number), "Approval Status")
    expect(status).to_contain_text("Requested")
    expect(status).not_to_contain_text(remarks)


# ---------------------------------------------------------------- 5. Financial Approval


def test_own_request_found_by_number_says_another_approver_decides_it(page: Page, demo):
    number = demo.invoice_numbers("NS")[3]

    log_in(page, "supervisor")  # Sam Supervisor: billing staff and approver
    request_cancellation(page, number)
    table = financial_approval(page)
    filter_requests(page, number=number)
    expect_flash(page, f"{number} is your own request: another approver decides it.")
    expect(table).to_have_count(0)
    expect(page.get_by_text("No requested request matches")).to_have_count(0)
    expect(page.get_by_label("Invoice No.")).to_have_value(number)
    log_out(page)

    # Another approver finds it by the same search and can review it.
    log_in(page, "approver")
    financial_approval(page)
    filter_requests(page, number=number)
    expect(request_row(page, number).get_by_role("link", name="Review")).to_be_visible()
    expect(page.get_by_text("is your own request")).to_have_count(0)


def test_status_filter_offers_all_and_approved_shows_who_decided_and_when(page: Page, demo):
    number = demo.invoice_numbers("NS")[4]

    log_in(page, "billing")
    request_cancellation(page, number)
    log_out(page)

    log_in(page, "approver")
    financial_approval(page)
    status = page.get_by_label("Approval Status")
    expect(status.locator("option")).to_have_text(
        ["Requested", "Approved", "Rejected", "Withdrawn", "Terminated", "All"]
    )
    expect(page.get_by_role("columnheader", name="Decided")).to_have_count(0)  # nothing decided in this list
    decide(page, number, "Approve")

    filter_requests(page, status="Approved")
    expect(page).to_have_url(re.compile(r"[?&]status=approved"))
    expect(status).to_have_value("approved")
    expect(page.get_by_role("columnheader", name="Decided")).to_be_visible()
    row = request_row(page, number)
    decided = cell(row, "Decided")
    expect(decided).to_have_text(re.compile(rf"^Review request: Approve by Arjun Approver, {today(demo, 'approver')}"))
    expect(decided).to_have_text(re.compile(rf", {DAY_TIME}$"))
    expect(cell(row, "Approval Status")).to_have_text("Approved")
    expect(row.get_by_role("link", name="View")).to_be_visible()  # decided: to look at, no longer to review

    filter_requests(page, status="All")
    expect(request_row(page, number)).to_be_visible()


def test_from_after_to_keeps_the_table_and_names_to_with_what_was_typed(page: Page, demo):
    number = demo.invoice_numbers("NS")[5]

    log_in(page, "billing")
    request_cancellation(page, number)
    log_out(page)

    log_in(page, "approver")
    table = financial_approval(page)
    expect(request_row(page, number)).to_be_visible()
    filter_requests(page, date_from="12/31/2026", date_to="1/1/2026")  # typed as the page writes days

    to_field = page.locator(".field").filter(has=page.get_by_label("To", exact=True))
    expect(to_field.get_by_text("To must be on or after From.", exact=True)).to_be_visible()
    from_field = page.locator(".field").filter(has=page.get_by_label("From", exact=True))
    expect(from_field.get_by_text("must be")).to_have_count(0)  # the error is at To, not at From
    expect(page.get_by_label("From", exact=True)).to_have_value("12/31/2026")
    expect(page.get_by_label("To", exact=True)).to_have_value("1/1/2026")
    expect(table).to_be_visible()  # the list still shows, without the dates
    expect(cell(request_row(page, number), "Approval Status")).to_contain_text("Requested")
    expect(page.get_by_label("Approval Status")).to_have_value("requested")


# ---------------------------------------------------------------- 8. keyboard


def test_row_selected_with_enter_then_tab_goes_to_more_action(page: Page, demo):
    number = demo.invoice_numbers("NS")[6]

    log_in(page, "billing")
    row = search_invoice(page, number)
    button = page.get_by_role("button", name="More Action")
    expect(button).to_be_disabled()  # nothing selected yet
    row.focus()
    page.keyboard.press("Enter")
    expect(row).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Tab")
    expect(button).to_be_focused()

    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("menuitem", name="Invoice Cancellation Request")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.get_by_role("menu")).to_be_hidden()
    expect(button).to_be_focused()
    expect(row).to_have_attribute("aria-selected", "true")  # closing the menu keeps the selection
