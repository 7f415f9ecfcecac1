"""What a person does in the browser, shared by the browser test modules: `from browsing import log_in`.

A module of its own (not tests/browser/conftest.py): tests/conftest.py and this directory's conftest.py are both
imported as the module `conftest`, so `from conftest import ...` would be ambiguous.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

# "Requested", or "Requested — awaiting <the lane of the step it waits on>".
REQUESTED = re.compile(r"^Requested( — awaiting .+)?$")

INVOICE_LIST = re.compile(r"/billing/invoices(\?.*)?$")
HOME = re.compile(r"/home$")


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(HOME)  # clinic staff start on Home: what waits for them
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def main_nav(page: Page, link: str) -> None:
    """Follow the top navigation's link named exactly `link`."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link, exact=True).click()


def cell(row: Locator, column: str) -> Locator:
    """The row's cell under the column header `column` (looked up by header text, not by position)."""
    table = row.locator("xpath=ancestor::table[1]")
    headers = [h.strip() for h in table.get_by_role("columnheader").all_inner_texts()]
    return row.get_by_role("cell").nth(headers.index(column))


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status").filter(has_text="You are logged out.")).to_be_visible()


def search_invoice(page: Page, number: str) -> Locator:
    """Home > Billing > Invoice, search the number; returns the invoice's row."""
    main_nav(page, "Invoice")
    expect(page).to_have_url(INVOICE_LIST)
    page.get_by_label("Search").fill(number)
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"[?&]q=" + re.escape(number)))
    return invoice_row(page, number)


def invoice_row(page: Page, number: str) -> Locator:
    table = page.get_by_role("table", name="Invoices")
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    return row


def select_row(row: Locator) -> None:
    # Click a plain cell (not the invoice-number link, which opens the invoice instead of selecting it).
    cell(row, "Patient").click()
    expect(row).to_have_attribute("aria-selected", "true")


def open_more_action(page: Page) -> Locator:
    button = page.get_by_role("button", name="More Action")
    expect(button).to_be_enabled()
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    menu = page.get_by_role("menu")
    expect(menu).to_be_visible()
    return menu
