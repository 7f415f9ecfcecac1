"""Issue 10 in a real browser: the installation administrator sets up a clinic, its administrator adds an approver
who must choose a password, and switching a clinic to Direct cancellation changes what billing staff are offered
while a request already running finishes on its approval process."""

from __future__ import annotations

import re

from browsing import cell, log_in, log_out, main_nav, open_more_action, search_invoice, select_row
from playwright.sync_api import Page, expect

from engine.usecases.invoice_import import HEADER

STRONG = "quartz lantern meadow 42"


def log_in_with(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def handed_password(page: Page, username: str) -> str:
    box = page.get_by_role("status").filter(has=page.get_by_role("heading", name=f"One-time password for {username}"))
    expect(box).to_be_visible()
    return box.locator("code").inner_text().strip()


def choose_own_password(page: Page, one_time: str) -> None:
    expect(page).to_have_url(re.compile(r"/account$"))
    expect(page.get_by_text("You logged in with a one-time password")).to_be_visible()
    page.get_by_label("Current password").fill(one_time)
    page.get_by_label("New password", exact=True).fill(STRONG)
    page.get_by_label("New password again").fill(STRONG)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed")).to_be_visible()


def test_a_new_clinic_its_administrator_and_an_approver(page: Page, demo):
    page.goto("/login")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/admin/clinics$"))
    expect(page.get_by_role("link", name="Invoice", exact=True)).to_have_count(0)  # no invoice data for root

    form = page.get_by_role("form", name="Create a clinic")
    form.get_by_label("Name", exact=True).fill("Hillside Clinic")
    form.get_by_role("radio", name=re.compile("Approval-based")).check()
    form.get_by_label("Time zone").fill("Europe/Zurich")
    form.get_by_label(re.compile("^Locale")).fill("de_CH")
    form.get_by_label(re.compile("^Currency")).fill("CHF")
    form.get_by_label("Username", exact=True).fill("h.admin")
    form.get_by_label("Full name").fill("Hana Hill")
    form.get_by_label("Email").fill("hana@hillside.example")
    form.get_by_role("button", name="Create clinic").click()
    expect(page.get_by_role("status").filter(has_text="Clinic Hillside Clinic created")).to_be_visible()
    admin_password = handed_password(page, "h.admin")
    expect(
        page.get_by_role("table", name="Clinics").get_by_role("row", name=re.compile("Hillside Clinic"))
    ).to_be_visible()
    log_out(page)

    log_in_with(page, "h.admin", admin_password)
    choose_own_password(page, admin_password)
    main_nav(page, "Users")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users of Hillside Clinic")
    form = page.get_by_role("form", name="Add user")
    form.get_by_label("Username").fill("a.hill")
    form.get_by_label("Full name").fill("Arno Hill")
    form.get_by_label("Email").fill("arno@hillside.example")
    form.get_by_label("Approver").check()
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status").filter(has_text="Arno Hill (a.hill) was added as Approver.")).to_be_visible()
    approver_password = handed_password(page, "a.hill")
    row = page.get_by_role("table", name="Users").get_by_role("row").filter(has_text="a.hill")
    expect(cell(row, "Last login")).to_have_text("never")
    log_out(page)

    log_in_with(page, "a.hill", approver_password)
    choose_own_password(page, approver_password)
    main_nav(page, "Financial Approval")
    expect(page.get_by_role("heading", level=1, name="Financial Approval")).to_be_visible()


def test_switching_to_direct_cancellation(page: Page, demo):
    running, fresh = demo.invoice_numbers("NS")[:2]
    demo.request("billing", running)

    log_in(page, "admin")
    main_nav(page, "Clinic settings")
    page.get_by_role("radio", name=re.compile("Direct cancellation")).check()
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").filter(has_text="those already running finish as they started")).to_be_visible()
    log_out(page)

    log_in(page, "billing")
    select_row(search_invoice(page, fresh))
    menu = open_more_action(page)
    expect(menu.get_by_role("menuitem")).to_have_count(1)
    expect(menu.get_by_role("menuitem", name="Cancel Invoice")).to_be_visible()

    # The request made before the switch finishes on its approval process.
    demo.decide("approver", running)
    demo.cancel("billing", running)
    expect(cell(search_invoice(page, running), "Status")).to_have_text("Cancelled")


def test_an_import_shows_its_progress_and_a_paid_invoice_cannot_be_requested(page: Page, demo):
    header = ",".join(HEADER)
    rows = [f"NS-BULK-{i:05d},P-{i},Patient {i},2026-11-01,10.00,USD,unpaid,none,0.00" for i in range(4500)]
    rows[0] = rows[0].replace("unpaid", "paid")
    log_in(page, "admin")
    main_nav(page, "Import invoices")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "export.csv", "mimeType": "text/csv", "buffer": "\n".join([header, *rows]).encode()}]
    )
    page.get_by_role("button", name="Import").click()
    expect(
        page.get_by_role("heading", name="Imported: 4500 rows: 4500 created, 0 updated, 0 unchanged, 0 refused.")
    ).to_be_visible(timeout=60_000)  # the import's own time (seconds on a slow machine), not the page's
    progress = page.locator("#import-progress")
    expect(progress).to_be_visible()
    assert progress.evaluate("p => [p.value, p.max]") == [4500, 4500]
    expect(page.get_by_text("Done.")).to_be_visible()
    log_out(page)

    log_in(page, "billing")
    row = search_invoice(page, "NS-BULK-00000")
    expect(cell(row, "Status")).to_have_text("Open Blocked")
    select_row(row)
    menu = open_more_action(page)
    expect(menu).to_contain_text("The invoice is paid: refund the payment before cancelling.")
    expect(menu.get_by_role("link", name="Invoice Cancellation Request")).to_have_count(0)
