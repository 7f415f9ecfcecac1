"""Every page fits a phone (390 x 844): nothing overflows sideways, the header bar spans the window, invoice numbers
and amounts stay on one line, the More Action menus open inside the window. The same checks run at 1366 x 768, where
the pages must look as they did.

The request the approver and the admin look at is made in the page by billing staff (the first test) or through
the engine (demo.request, tests/conftest.py). PHONE_SHOTS=<directory> saves a screenshot of each page checked.
"""

from __future__ import annotations

import os
import re

import pytest
from browsing import cell, invoice_row, log_in, log_out, main_nav, open_more_action, select_row
from playwright.sync_api import Locator, Page, expect

SHOTS = os.environ.get("PHONE_SHOTS")


@pytest.fixture(params=[(390, 844), (1366, 768)], ids=["phone", "laptop"])
def screen(request, page: Page) -> Page:
    width, height = request.param
    page.set_viewport_size({"width": width, "height": height})
    return page


def expect_fits(page: Page, name: str) -> None:
    """The page is no wider than the window and its header bar spans it."""
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{page.viewport_size['width']}-{name}.png", full_page=True)
    viewport = page.viewport_size["width"]
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport, f"{name}: the page is {width} px wide in a {viewport} px wide window"
    header = page.locator("header.topbar").bounding_box()
    assert header is not None and header["x"] == 0 and header["width"] == viewport, f"{name}: header {header}"


def expect_inside_window(page: Page, element: Locator, name: str) -> None:
    box = element.bounding_box()
    viewport = page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport, f"{name}: {box}"


def expect_one_line(element: Locator) -> None:
    """An invoice number or an amount never wraps: its text is one line high (the cell may be higher)."""
    expect(element).to_have_css("white-space", "nowrap")
    height, font_size = element.evaluate(
        """e => { const text = document.createRange(); text.selectNodeContents(e);
                  return [text.getBoundingClientRect().height, parseFloat(getComputedStyle(e).fontSize)]; }"""
    )
    assert 0 < height < 2 * font_size, f"{element}: its text is {height} px high in a {font_size} px font"


def number_link(page: Page, number: str) -> Locator:
    return page.get_by_role("main").get_by_role("link", name=number, exact=True).first


# ---------------------------------------------------------------- tests


def test_billing_and_approver_pages_fit_the_window(screen: Page, demo):
    page = screen
    number = demo.invoice_numbers("NS")[2]

    log_in(page, "billing")
    main_nav(page, "Invoice")
    row = invoice_row(page, number)
    expect_fits(page, "invoice-list")
    expect_one_line(number_link(page, number))
    expect_one_line(cell(row, "Amount"))

    select_row(row)
    menu = open_more_action(page)
    expect_fits(page, "more-action")
    expect_inside_window(page, menu, "the More Action menu")

    menu.get_by_role("menuitem", name="Invoice Cancellation Request", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="Invoice Cancellation Request")).to_be_visible()
    expect_fits(page, "request-form")
    page.get_by_label("Reason").select_option(label="Duplicate invoice")
    page.get_by_label("Remarks").fill("Billed twice for the same visit.")
    page.get_by_role("button", name="SAVE").click()
    expect(page).to_have_url(re.compile(r"/billing/invoices(\?.*)?$"))
    log_out(page)

    log_in(page, "approver")
    main_nav(page, "Financial Approval")
    requests = page.get_by_role("table", name="Cancellation requests")
    row = requests.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    expect_fits(page, "financial-approval")
    expect_one_line(number_link(page, number))
    expect_one_line(cell(row, "Amount"))

    row.get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancellation request for invoice {number}")
    expect_fits(page, "review")
    expect_one_line(number_link(page, number))
    expect_one_line(page.get_by_role("heading", level=1).locator(".invoice-number"))


def test_process_instance_pages_fit_the_window(screen: Page, demo):
    page = screen
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)

    log_in(page, "admin")
    main_nav(page, "Process Instances")
    instances = page.get_by_role("table", name="Process instances")
    row = instances.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    expect_fits(page, "instances")
    expect_one_line(number_link(page, number))

    row.get_by_role("link", name="Details").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^Instance \d+ · invoice {number}$"))
    expect(page.locator("#canvas")).to_have_attribute("data-rendered", "true")
    expect_fits(page, "instance")
    expect_one_line(page.get_by_role("heading", level=1).get_by_role("link", name=number))


def test_every_page_in_the_admins_navigation_fits_the_window(screen: Page, demo):
    page = screen
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)

    log_in(page, "admin")
    nav = page.get_by_role("navigation", name="Main").get_by_role("link")
    pages = dict.fromkeys(nav.evaluate_all("links => links.map(a => a.getAttribute('href'))"))
    pages.update(dict.fromkeys(["/notifications", "/account", f"/billing/invoices/{number}"]))
    for href in pages:
        response = page.goto(href)
        assert response is not None and response.ok, href
        expect_fits(page, href.strip("/").replace("/", "-"))

    # The invoice's own More Action (under its summary, at the left) opens inside the window too.
    menu = open_more_action(page)
    expect_fits(page, "invoice-more-action")
    expect_inside_window(page, menu, "the invoice's More Action menu")
