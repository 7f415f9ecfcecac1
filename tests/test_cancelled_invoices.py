"""Issue 12: Home > Billing > Cancelled Invoice lists the clinic's cancelled invoices: who, when, why."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from helpers import row_of


def test_cancelled_invoices_say_who_when_and_why_and_download_as_csv(web, demo):
    number, other = demo.invoice_numbers("NS")[:2]
    demo.request("billing", number, reason="duplicate", remarks="=Billed twice")
    demo.decide("approver", number)
    demo.cancel("billing", number, "Reversed in the ledger")
    lakeside = demo.invoice_numbers("LS")[0]
    demo.cancel("lakeside", lakeside, "Wrong patient")

    billing = web("billing")
    page = billing.get("/billing/cancelled").text
    row = row_of(page, number)
    assert "Duplicate invoice" in row and "Request: =Billed twice" in row and "Reversed in the ledger" in row
    assert "Bella Billing (billing)" in row and other not in page and lakeside not in page  # own clinic only
    assert number in billing.get("/billing/cancelled", query_string={"q": number[-5:]}).text
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    assert number not in billing.get("/billing/cancelled", query_string={"from": tomorrow}).text
    bad = billing.get("/billing/cancelled", query_string={"from": "31/12/2026"})
    assert bad.status_code == 422 and "From must be a date written as MM/DD/YYYY, e.g. 12/31/2026." in bad.text

    download = billing.get("/billing/cancelled.csv")
    assert download.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0][6] == "Cancelled at (America/New_York)" or rows[0][6].startswith("Cancelled at (")
    found = next(r for r in rows[1:] if r[0] == number)
    assert found[8] == "Duplicate invoice" and found[9] == "'=Billed twice"  # no formula reaches a spreadsheet

    direct = row_of(web("lakeside").get("/billing/cancelled").text, lakeside)
    assert "Wrong patient" in direct and "—" in direct  # a direct cancellation has no request reason
    assert web("analyst").get("/billing/cancelled").status_code == 403
