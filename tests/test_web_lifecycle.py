"""The lifecycle through Flask's client, as pages: Invoice, the task forms and Financial Approval."""

from __future__ import annotations

import html
import shutil
from datetime import UTC, datetime, timedelta

from helpers import latest_request_id, review_url, row_of, task_url
from sqlalchemy import select, update

from engine.db import unit_of_work
from engine.models import CancellationRequest, Invoice
from engine.workflow.parsing import PROCESSES_DIR

APPROVAL_QUEUE = "/billing/financial-approval/"


def test_login_and_logout(web, demo):
    client = web()
    assert client.get("/billing/invoices").status_code == 302
    page = client.get("/login").text
    for words in ("Username", "Password", "Log in"):
        assert words in page
    refused = client.login("billing", "wrong")
    assert refused.status_code == 401
    assert "Username or password is not right" in refused.text
    assert client.login("billing").status_code == 302
    assert "Bella Billing" in client.get("/billing/invoices").text
    assert client.post("/logout").status_code == 302
    assert client.get("/billing/invoices").status_code == 302


def test_invoice_list_search_and_pages(web, demo, session_factory):
    client = web("billing")
    numbers = demo.invoice_numbers("NS")
    page = client.get("/billing/invoices").text
    for heading in ("Invoice No.", "Patient", "Amount", "Status", "More Action", "Search"):
        assert heading in page
    assert "Approval Status" not in page  # until a request (tests/test_small_things.py)
    assert all(n in page for n in numbers)
    assert not any(n in page for n in demo.invoice_numbers("LS"))  # only the user's clinic
    with unit_of_work(session_factory) as s:
        target = s.scalar(select(Invoice).where(Invoice.number == numbers[3]))
        name, patient_id = target.patient_name, target.patient_id
    for q in (numbers[3], name.split()[1].upper(), patient_id):
        found = client.get("/billing/invoices", query_string={"q": q}).text
        assert numbers[3] in found
    assert "No invoice matches" in client.get("/billing/invoices", query_string={"q": "zzz%"}).text


def test_pagination(web, demo, session_factory):
    with unit_of_work(session_factory) as s:
        template = s.scalar(select(Invoice).where(Invoice.number == demo.invoice_numbers("NS")[0]))
        for n in range(30):
            s.add(
                Invoice(
                    clinic_id=template.clinic_id,
                    number=f"NS-X-{n:03d}",
                    patient_name="Extra Patient",
                    patient_id=f"X{n}",
                    invoice_date=template.invoice_date,
                    amount=template.amount,
                )
            )
    client = web("billing")
    first = client.get("/billing/invoices").text
    assert "42 in all · page 1 of 3" in first
    assert "page 3 of 3" in client.get("/billing/invoices?page=3").text
    assert "page 3 of 3" in client.get("/billing/invoices?page=99").text


def test_request_approve_cancel_through_the_pages(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    billing, approver = web("billing"), web("approver")

    form = billing.get(task_url(number, "request_cancellation")).text
    assert "Invoice Cancellation Request" in form and "SAVE" in form
    assert '<option value="">Choose…</option>' in form and " selected" not in form  # no preselected reason
    for option in ("Duplicate invoice", "Wrong patient", "Wrong amount", "Other"):
        assert option in form
    saved = billing.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "Billed twice"})
    assert saved.status_code == 302
    assert "Requested" in row_of(billing.get("/billing/invoices").text, number)

    queue = approver.get(APPROVAL_QUEUE).text
    assert number in queue and "Billed twice" in queue and "Duplicate invoice" in queue and "Review" in queue
    url = review_url(session_factory, number)
    review = approver.get(url).text
    assert 'type="radio" name="decision" value="approve"' in review
    assert 'type="radio" name="decision" value="reject"' in review
    assert approver.post(url, {"decision": "approve"}).status_code == 302
    decided = approver.get(url)  # the decided request's Review page: what was decided, no form
    assert decided.status_code == 200
    assert "already decided" in html.unescape(decided.text) and 'name="decision"' not in decided.text
    assert number not in approver.get(APPROVAL_QUEUE).text
    assert number in approver.get(APPROVAL_QUEUE, query_string={"status": "approved"}).text
    assert "Approved" in row_of(billing.get("/billing/invoices").text, number)

    assert billing.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "As approved"}).status_code == 302
    row = row_of(billing.get("/billing/invoices").text, number)
    assert "Cancelled" in row
    detail = billing.get(f"/billing/invoices/{number}").text
    for words in (
        "Bella Billing",
        "Arjun Approver",
        "Billed twice",
        "As approved",
        "Duplicate invoice",
        "Approve",
    ):
        assert words in detail


def test_reject_then_new_request(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[1]
    billing, approver = web("billing"), web("approver")
    billing.post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "Typo"})
    url = review_url(session_factory, number)
    assert approver.post(url, {"decision": "reject", "decision_remarks": "Invoice is right"}).status_code == 302
    assert "Rejected" in row_of(billing.get("/billing/invoices").text, number)
    assert number in approver.get(APPROVAL_QUEUE, query_string={"status": "rejected"}).text
    assert (
        billing.post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "Again"}).status_code
        == 302
    )
    assert "Requested" in row_of(billing.get("/billing/invoices").text, number)


def test_direct_clinic_cancels_from_the_menu(web, demo):
    number = demo.invoice_numbers("LS")[0]
    lakeside = web("lakeside")
    row = row_of(lakeside.get("/billing/invoices").text, number)
    assert "Cancel Invoice" in row and "Invoice Cancellation Request" not in row
    assert lakeside.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "Wrong patient"}).status_code == 302
    assert "Cancelled" in row_of(lakeside.get("/billing/invoices").text, number)
    assert lakeside.get(APPROVAL_QUEUE).status_code == 403


def test_approval_queue_filters_by_clinic_dates(web, demo, session_factory):
    numbers = demo.invoice_numbers("NS")[:2]
    billing, approver = web("billing"), web("approver")
    for number in numbers:
        billing.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "x"})
    # Northside is in America/New_York: 02:30 UTC on 10 March is still 9 March at the clinic.
    with unit_of_work(session_factory) as s:
        s.execute(
            update(CancellationRequest)
            .where(CancellationRequest.id == latest_request_id(session_factory, numbers[0]))
            .values(requested_at=datetime(2026, 3, 10, 2, 30, tzinfo=UTC))
        )
    on_ninth = approver.get(APPROVAL_QUEUE, query_string={"from": "2026-03-09", "to": "2026-03-09"}).text
    assert numbers[0] in on_ninth and numbers[1] not in on_ninth
    assert "3/9/2026 22:30" in on_ninth  # shown in the clinic's time zone, its day as en_US writes it
    assert numbers[0] not in approver.get(APPROVAL_QUEUE, query_string={"from": "2026-03-10", "to": "2026-03-10"}).text
    today = (datetime.now(UTC) - timedelta(hours=5)).date().isoformat()
    by_number = approver.get(APPROVAL_QUEUE, query_string={"number": numbers[1][-5:], "from": "2026-01-01"}).text
    assert numbers[1] in by_number and numbers[0] not in by_number
    bad = approver.get(APPROVAL_QUEUE, query_string={"from": "yesterday", "to": today})
    assert bad.status_code == 422 and "From must be a date written as MM/DD/YYYY, e.g. 12/31/2026." in bad.text
    oldest_first = approver.get(APPROVAL_QUEUE).text
    assert oldest_first.index(numbers[0]) < oldest_first.index(numbers[1])


def test_a_field_added_in_the_diagram_appears_on_screen_and_is_validated(tmp_path, database_url, web):
    from engine.demo import seed_demo
    from webapp import create_app

    processes = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, processes)
    path = processes / "invoice_cancellation_request.bpmn"
    text = path.read_text()
    extra = (
        '<camunda:formField id="reference" label="Duplicate of invoice" type="string">'
        '<camunda:validation><camunda:constraint name="required" config="true" /></camunda:validation>'
        "</camunda:formField>\n"
    )
    marker = '<camunda:formField id="remarks"'
    path.write_text(text.replace(marker, extra + marker, 1))
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "PROCESSES_DIR": str(processes)})
    try:
        with unit_of_work(app.extensions["session_factory"]) as s:
            seed_demo(s, invoices_per_clinic=2)
            number = s.scalars(select(Invoice.number).order_by(Invoice.id)).first()
        client = web("billing", app=app)
        assert (
            'label for="field-reference">Duplicate of invoice'
            in client.get(task_url(number, "request_cancellation")).text
        )
        refused = client.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "x"})
        assert refused.status_code == 422 and "Duplicate of invoice is required" in refused.text
        done = client.post(
            task_url(number, "request_cancellation"),
            {"reason": "duplicate", "remarks": "x", "reference": "NS-1"},
        )
        assert done.status_code == 302
        assert "NS-1" in client.get(f"/billing/invoices/{number}").text
    finally:
        app.extensions["db_engine"].dispose()


def test_healthz(web):
    response = web().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok", "database": "ok"}
