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


def log_in(page: Page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(INVOICE_LIST)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def main_nav(page: Page, link: str) -> None:
    """Follow the top navigation's link named exactly `link`."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name=link, exact=True).click()


def cell(row: Locator, column: str) -> Locator:
    """The row's cell under the column header `column` (looked up by header text, not by position)."""
    table = row.locator("xpath=ancestor::table[1]")
    headers = [h.strip() for h in table.get_by_role("columnheader").all_inner_texts()]
    return row.get_by_role("cell").nth(headers.index(column))
