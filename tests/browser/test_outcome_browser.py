"""Issue 15 (6. Process Instances) in a real browser: the administrator reads how each instance ended (Outcome,
with a termination's reason, and when it ended) and how long the waiting ones have waited, in words."""

from __future__ import annotations

from datetime import timedelta

from browsing import cell, log_in, main_nav
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from engine.db import unit_of_work
from engine.models import Invoice, ProcessInstance, utcnow
from engine.usecases import instance_admin


def _waited(factory, number: str, how_long: timedelta) -> None:
    """The request of `number` has waited `how_long` (as if made then)."""
    with unit_of_work(factory) as s:
        invoice_id = s.scalar(select(Invoice.id).where(Invoice.number == number))
        s.execute(
            update(ProcessInstance)
            .where(ProcessInstance.invoice_id == invoice_id)
            .values(waiting_since=utcnow() - how_long)
        )


def _terminate(factory, actor, number: str, reason: str) -> None:
    with unit_of_work(factory) as s:
        invoice_id = s.scalar(select(Invoice.id).where(Invoice.number == number))
        instance_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.invoice_id == invoice_id))
        instance_admin.terminate(s, actor, instance_id, reason)


def test_the_instance_list_says_how_each_ended_and_how_long_the_others_wait(page: Page, demo):
    cancelled, rejected, terminated, hours, days = demo.invoice_numbers("NS")[:5]
    for number in (cancelled, rejected, terminated, hours, days):
        demo.request("billing", number)
    demo.decide("approver", cancelled)
    demo.cancel("billing", cancelled)
    demo.decide("approver", rejected, "reject", "Two visits, both billed correctly")
    _terminate(demo.factory, demo.actor("admin"), terminated, "Entered for the wrong clinic")
    _waited(demo.factory, hours, timedelta(hours=3, minutes=20, seconds=30))
    _waited(demo.factory, days, timedelta(days=2, hours=5))

    log_in(page, "admin")
    main_nav(page, "Process Instances")
    table = page.get_by_role("table", name="Process instances")
    expect(table.get_by_role("columnheader", name="Outcome")).to_be_visible()
    expect(table.get_by_role("columnheader", name="Ended")).to_be_visible()

    def row(number: str):
        return table.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))

    expect(cell(row(cancelled), "Outcome")).to_have_text("Cancelled")
    expect(cell(row(rejected), "Outcome")).to_have_text("Rejected")
    expect(cell(row(terminated), "Outcome")).to_contain_text("Terminated")
    expect(cell(row(terminated), "Outcome")).to_contain_text("Entered for the wrong clinic")
    for number in (cancelled, rejected, terminated):
        expect(cell(row(number), "Ended")).not_to_have_text("")
        expect(cell(row(number), "Waiting since")).to_have_text("")
    for number, age in ((hours, "(3 h 20 min)"), (days, "(2 days)")):
        expect(cell(row(number), "Outcome")).to_have_text("")
        expect(cell(row(number), "Ended")).to_have_text("")
        expect(cell(row(number), "Waiting since").locator(".age")).to_have_text(age)
