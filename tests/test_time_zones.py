"""Issue 15 (2. time zones and locale): every page says once which zone its times are in; an invoice's date is a
day of its clinic's calendar (so it is never cancelled "before" it was issued); money is written as the clinic's
locale writes it (Babel)."""

from __future__ import annotations

import html
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from engine.db import unit_of_work
from engine.models import Clinic, Invoice, utcnow


def test_each_page_says_which_zone_its_times_are_in(web, demo):
    home = html.unescape(web("billing").get("/billing/invoices").text)
    assert "Times on this page are Northside Clinic time, <abbr" in home and ">America/New_York</abbr>" in home
    lakeside = html.unescape(web("lakeside").get("/billing/invoices").text)
    assert ">America/Chicago</abbr>" in lakeside
    processes = html.unescape(web("analyst").get("/processes/").text)
    assert "Times on this page are <abbr" in processes and ">UTC</abbr>" in processes


def test_an_invoice_date_is_a_day_of_the_clinics_calendar(demo, session_factory):
    with unit_of_work(session_factory, read_only=True) as s:
        for prefix, zone in (("NS", "America/New_York"), ("LS", "America/Chicago")):
            latest = s.scalar(
                select(Invoice.invoice_date).where(Invoice.number.like(f"{prefix}-%")).order_by(Invoice.number.desc())
            )
            assert latest == utcnow().astimezone(ZoneInfo(zone)).date()
    lakeside = demo.invoice_numbers("LS")[-1]  # dated today, Lakeside time
    demo.cancel("lakeside", lakeside)
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == lakeside))
        assert invoice.cancelled_at.astimezone(ZoneInfo("America/Chicago")).date() >= invoice.invoice_date


def test_money_is_written_as_the_clinics_locale_writes_it(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "5000.00")
    billing = web("billing")
    assert "USD 5,000.00" in billing.get("/billing/invoices").text  # en_US, the demo's
    with unit_of_work(session_factory) as s:
        s.execute(update(Clinic).where(Clinic.name == "Northside Clinic").values(locale="de_CH"))
    swiss = web("billing")  # the locale is read at login
    assert "USD 5’000.00" in html.unescape(swiss.get("/billing/invoices").text)
    with unit_of_work(session_factory, read_only=True) as s:  # what is stored does not change
        assert s.scalar(select(Invoice.amount).where(Invoice.number == number)) == Decimal("5000.00")


def test_days_are_shown_and_typed_as_the_clinics_locale_writes_them(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[-1]
    with unit_of_work(session_factory, read_only=True) as s:
        dated = s.scalar(select(Invoice.invoice_date).where(Invoice.number == number))
    us = html.unescape(web("billing").get("/billing/invoices").text)
    assert f"<td>{dated.month}/{dated.day}/{dated.year}</td>" in us  # en_US: M/d/yyyy
    demo.request("billing", number)
    approver = web("approver")
    typed = approver.get("/billing/financial-approval/", query_string={"from": "1/1/2026", "to": "12/31/2099"})
    assert typed.status_code == 200 and number in typed.text  # typed as shown
    assert 'placeholder="MM/DD/YYYY"' in typed.text and 'value="1/1/2026"' in typed.text
    assert number in approver.get("/billing/financial-approval/?from=2026-01-01").text  # ISO (links) still reads
    with unit_of_work(session_factory) as s:
        s.execute(update(Clinic).where(Clinic.name == "Northside Clinic").values(locale="de_CH"))
    swiss = web("approver")
    page = html.unescape(swiss.get("/billing/financial-approval/", query_string={"from": "01.01.2026"}).text)
    assert number in page and 'placeholder="DD.MM.YYYY"' in page and 'value="01.01.2026"' in page
    bad = swiss.get("/billing/financial-approval/", query_string={"from": "1/31/2026"})
    assert bad.status_code == 422 and "From must be a date written as DD.MM.YYYY, e.g. 31.12.2026." in html.unescape(
        bad.text
    )
    shown = html.unescape(web("billing").get("/billing/invoices").text)
    assert f"<td>{dated.day:02d}.{dated.month:02d}.{dated.year}</td>" in shown
