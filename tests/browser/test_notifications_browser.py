"""Issue 14 in a real browser: preferences on My account, the bell, and mail received by a local SMTP server
(aiosmtpd) when a request waits and when it is approved."""

from __future__ import annotations

import re

from browsing import log_in, log_out
from playwright.sync_api import Page, expect

from engine.events.mail import send_mail


def test_preferences_the_bell_and_a_mail_when_a_request_is_approved(page: Page, demo, session_factory, smtp_server,
                                                                     tmp_path):  # fmt: skip
    number = demo.invoice_numbers("NS")[0]
    log_in(page, "approver")
    page.goto("/account")
    page.get_by_label("A request waits for your decision").select_option("Immediately")
    page.get_by_role("button", name="Save notification preferences").click()
    expect(page.get_by_text("Notification preferences saved.")).to_be_visible()
    expect(page.get_by_label("A request waits for your decision")).to_have_value("immediately")

    demo.request("billing", number)
    assert send_mail(session_factory, smtp_server.url, tmp_path) == 1  # the worker's job
    assert [m["To"] for m in smtp_server.messages] == ["approver@northside.example"]
    page.goto("/home")
    expect(page.locator("#bell-count")).to_have_text(re.compile(r"^1"))
    page.locator("#bell").click()
    expect(page.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    note = page.get_by_role("listitem").filter(has_text=f"Invoice {number}: a cancellation request waits")
    note.get_by_role("link", name="Open").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cancellation request for invoice {number}")
    page.get_by_role("radio", name="Approve").check()
    page.get_by_role("button", name="SAVE").click()
    expect(page.get_by_role("link", name=number, exact=True)).to_have_count(0)  # decided: gone from the queue
    page.locator("#bell").click()
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator("#bell-count")).to_have_count(0)
    log_out(page)

    assert send_mail(session_factory, smtp_server.url, tmp_path) == 1
    approved = smtp_server.messages[-1]
    assert approved["To"] == "billing@northside.example"
    assert approved["Subject"] == f"Invoice {number}: your cancellation request was approved"
    log_in(page, "billing")
    expect(page.locator("#bell-count")).to_have_text(re.compile(r"^1"))
    page.locator("#bell").click()
    page.get_by_role("button", name=f"Mark as read: Invoice {number}: your cancellation request was approved").click()
    expect(page.locator("#bell-count")).to_have_count(0)
