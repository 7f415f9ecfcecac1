"""The cancellation lifecycle in a real browser, as staff use it: accessible locators only where possible.

Each test gets a fresh database (tests/conftest.py) and logs in through the form like a person does.
"""

from __future__ import annotations

import re

from browsing import (
    INVOICE_LIST,
    REQUESTED,
    cell,
    invoice_row,
    log_in,
    log_out,
    open_more_action,
    search_invoice,
    select_row,
)
from playwright.sync_api import Locator, Page, expect

HTML_REMARKS = "<img src=x onerror=alert(1)><b>bold</b>"


# ---------------------------------------------------------------- helpers: what a person does
# (log_in, log_out, main_nav, cell, search_invoice, invoice_row, select_row and open_more_action are in
# tests/browser/browsing.py, shared with the other browser tests)


def expect_enabled_item(menu: Locator, name: str) -> Locator:
    item = menu.get_by_role("menuitem", name=name, exact=True)
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("href", re.compile(r"/billing/invoices/.+/tasks/"))
    expect(item).not_to_have_attribute("aria-disabled", "true")
    return item


def expect_disabled_item(menu: Locator, name: str) -> Locator:
    # A disabled item's accessible name is its label followed by why it is disabled ("— Not available ...").
    item = menu.get_by_role("menuitem", name=re.compile(rf"^{re.escape(name)}(\s|$)"))
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("aria-disabled", "true")
    expect(item).to_be_disabled()
    expect(item).not_to_have_attribute("href", re.compile(".*"))
    return item


def choose_action(page: Page, number: str, action: str) -> None:
    """Select the invoice's row on the list, open More Action and follow the (enabled) item."""
    row = search_invoice(page, number)
    select_row(row)
    menu = open_more_action(page)
    expect_enabled_item(menu, action).click()
    expect(page.get_by_role("heading", level=1, name=action)).to_be_visible()


def save(page: Page) -> None:
    page.get_by_role("button", name="SAVE").click()


def request_cancellation(page: Page, number: str, remarks: str, reason: str = "Duplicate invoice") -> None:
    choose_action(page, number, "Invoice Cancellation Request")
    page.get_by_label("Reason").select_option(label=reason)
    page.get_by_label("Remarks").fill(remarks)
    save(page)
    expect(page).to_have_url(INVOICE_LIST)
    expect(cell(invoice_row(page, number), "Approval Status")).to_have_text(REQUESTED)


def open_review(page: Page, number: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Financial Approval").click()
    expect(page).to_have_url(re.compile(r"/billing/financial-approval/(\?.*)?$"))
    requests = page.get_by_role("table", name="Cancellation requests")
    row = requests.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    row.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancellation request for invoice {number}")


def expect_not_in_queue(page: Page, number: str) -> None:
    expect(page).to_have_url(re.compile(r"/billing/financial-approval/(\?.*)?$"))
    expect(page.get_by_label("Approval Status")).to_have_value("requested")
    expect(page.get_by_role("link", name=number, exact=True)).to_have_count(0)


def history_row(page: Page, what: str) -> Locator:
    history = page.get_by_role("region", name="Cancellation history")
    rows = history.get_by_role("row").filter(has=page.get_by_role("cell", name=what, exact=True))
    expect(rows).to_have_count(1)
    return rows


# ---------------------------------------------------------------- tests


def test_request_approve_cancel(page: Page, demo):
    number = demo.invoice_numbers("NS")[2]

    log_in(page, "billing")
    row = search_invoice(page, number)
    expect(row).to_have_attribute("aria-selected", "false")
    select_row(row)
    menu = open_more_action(page)
    expect_disabled_item(menu, "Cancel Invoice")
    expect_enabled_item(menu, "Invoice Cancellation Request").click()
    expect(page.get_by_role("heading", level=1, name="Invoice Cancellation Request")).to_be_visible()
    page.get_by_label("Reason").select_option(label="Duplicate invoice")
    page.get_by_label("Remarks").fill("Billed twice for the same visit.")
    save(page)
    expect(page).to_have_url(INVOICE_LIST)
    row = invoice_row(page, number)
    expect(cell(row, "Approval Status")).to_have_text(REQUESTED)
    expect(cell(row, "Status")).not_to_have_text("Cancelled")
    log_out(page)

    log_in(page, "approver")
    open_review(page, number)
    page.get_by_role("radio", name="Approve").check()
    save(page)
    expect_not_in_queue(page, number)
    log_out(page)

    log_in(page, "billing")
    row = search_invoice(page, number)
    expect(cell(row, "Approval Status")).to_have_text("Approved")
    select_row(row)
    menu = open_more_action(page)
    expect_enabled_item(menu, "Cancel Invoice").click()
    expect(page.get_by_role("heading", level=1, name="Cancel Invoice")).to_be_visible()
    page.get_by_label("Remarks").fill("Voided in the ledger.")
    save(page)
    expect(page).to_have_url(INVOICE_LIST)
    row = invoice_row(page, number)
    expect(cell(row, "Status")).to_have_text("Cancelled")

    row.get_by_role("link", name=number, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Invoice {number}")
    requested = history_row(page, "Invoice Cancellation Request")
    expect(requested).to_contain_text("Bella Billing")
    expect(requested).to_contain_text("Duplicate invoice")
    expect(requested).to_contain_text("Billed twice for the same visit.")
    decided = history_row(page, "Review request")
    expect(decided).to_contain_text("Arjun Approver")
    expect(decided).to_contain_text("Approve")
    cancelled = history_row(page, "Cancel Invoice")
    expect(cancelled).to_contain_text("Bella Billing")
    expect(cancelled).to_contain_text("Voided in the ledger.")
    history_row(page, "Invoice status: Cancelled")


def test_reject_then_new_request(page: Page, demo):
    number = demo.invoice_numbers("NS")[4]

    log_in(page, "billing")
    request_cancellation(page, number, "Wrong patient on the invoice.", reason="Wrong patient")
    log_out(page)

    log_in(page, "approver")
    open_review(page, number)
    page.get_by_role("radio", name="Reject").check()
    save(page)
    expect(page.get_by_role("alert").filter(has_text="nothing was saved")).to_be_visible()
    remarks = page.get_by_label("Remarks")
    expect(remarks).to_have_accessible_description(re.compile(r"Remarks is required"))
    expect(page.get_by_text(re.compile(r"^Remarks is required"))).to_be_visible()
    expect(page.get_by_role("radio", name="Reject")).to_be_checked()  # the choice was kept
    expect(page.locator("dd.approval-status")).to_have_text(REQUESTED)
    # Still waiting in the Requested list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Financial Approval").click()
    requests = page.get_by_role("table", name="Cancellation requests")
    expect(requests.get_by_role("row").filter(has_text=number)).to_contain_text("Requested")

    open_review(page, number)
    page.get_by_role("radio", name="Reject").check()
    page.get_by_label("Remarks").fill("The patient is right; keep the invoice.")
    save(page)
    expect_not_in_queue(page, number)
    log_out(page)

    log_in(page, "billing")
    row = search_invoice(page, number)
    expect(cell(row, "Approval Status")).to_have_text("Rejected — “The patient is right; keep the invoice.”")  # and why
    expect(cell(row, "Status")).not_to_have_text("Cancelled")
    select_row(row)
    menu = open_more_action(page)
    expect_disabled_item(menu, "Cancel Invoice")
    expect_enabled_item(menu, "Invoice Cancellation Request")
    page.keyboard.press("Escape")
    request_cancellation(page, number, "Second try: amount was wrong.", reason="Wrong amount")


def test_html_in_remarks_is_shown_as_text(page: Page, demo):
    number = demo.invoice_numbers("NS")[6]
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    log_in(page, "billing")
    request_cancellation(page, number, HTML_REMARKS, reason="Other")
    log_out(page)

    log_in(page, "approver")
    open_review(page, number)
    shown = page.get_by_text(HTML_REMARKS, exact=True)
    expect(shown.first).to_be_visible()
    expect(page.locator("dd.remarks")).to_have_text(HTML_REMARKS)
    expect(page.locator("dd.remarks b")).to_have_count(0)
    expect(page.locator("dd.remarks img")).to_have_count(0)
    expect(page.locator("main b, main img")).to_have_count(0)
    assert dialogs == []


def test_direct_clinic_cancel(page: Page, demo):
    number = demo.invoice_numbers("LS")[1]

    log_in(page, "lakeside")
    expect(page.get_by_role("link", name="Financial Approval")).to_have_count(0)
    row = search_invoice(page, number)
    select_row(row)
    menu = open_more_action(page)
    expect(menu.get_by_role("menuitem")).to_have_count(1)
    expect(menu.get_by_role("menuitem", name="Invoice Cancellation Request")).to_have_count(0)
    expect_enabled_item(menu, "Cancel Invoice").click()
    expect(page.get_by_role("heading", level=1, name="Cancel Invoice")).to_be_visible()
    page.get_by_label("Remarks").fill("Entered by mistake.")
    save(page)
    expect(page).to_have_url(INVOICE_LIST)
    row = invoice_row(page, number)
    expect(cell(row, "Status")).to_have_text("Cancelled")

    # Once cancelled, it can only be opened again: Undo Cancel (at once in a direct clinic).
    select_row(row)
    menu = open_more_action(page)
    expect(menu.get_by_role("menuitem")).to_have_count(1)
    expect_enabled_item(menu, "Undo Cancel").click()
    expect(page.get_by_role("heading", level=1, name="Undo Cancel")).to_be_visible()
    page.get_by_label("Remarks").fill("Cancelled the wrong invoice.")
    save(page)
    expect(cell(invoice_row(page, number), "Status")).to_have_text("Open")
