"""Admin pages through Flask's client: list, CSV, detail, retry and terminate; refusals write nothing."""

from __future__ import annotations

import pytest
from helpers import task_url
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import Clinic, Invoice, ProcessInstance

LIST = "/admin/instances"


@pytest.fixture
def running(demo, session_factory):
    """Two Northside requests waiting for review; returns {number: instance_id}."""
    ids = {}
    for number in demo.invoice_numbers("NS")[:2]:
        demo.request("billing", number, remarks="x")
        with unit_of_work(session_factory) as s:
            ids[number] = s.scalar(select(ProcessInstance.id).join(Invoice).where(Invoice.number == number))
    return ids


def test_admin_sees_the_clinics_instances(web, running):
    page = web("admin").get(LIST)
    assert page.status_code == 200
    for words in ("Process Instances", "Running", "Review request — Approver, Clinic administrator", "Bella Billing"):
        assert words in page.text
    assert all(number in page.text for number in running)
    assert '<span class="n">2</span> Running' in page.text


def test_filters_and_bad_filters(web, running):
    admin = web("admin")
    first = next(iter(running))
    assert first in admin.get(LIST, query_string={"status": "running", "number": first}).text
    assert "No process instance matches" in admin.get(LIST, query_string={"status": "completed"}).text
    bad = admin.get(LIST, query_string={"status": "asleep", "from": "tomorrow", "version": "two"})
    assert bad.status_code == 422
    for message in ("Status must be one of", "Started From must be a date", "Version must be a whole number"):
        assert message in bad.text


def test_csv_export(web, running):
    response = web("admin").get(LIST + ".csv", query_string={"status": "running"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.text.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Invoice No.,Process")


def test_instance_page_shows_diagram_data_tasks_and_trail(web, running):
    instance_id = next(iter(running.values()))
    page = web("admin").get(f"{LIST}/{instance_id}")
    assert page.status_code == 200
    assert 'id="diagram-data"' in page.text and "bpmn-navigated-viewer.production.min.js" in page.text
    assert "&#34;ready&#34;: [&#34;review_request&#34;]" in page.text or '"ready": ["review_request"]' in page.text
    for words in ("Tasks", "Variables", "Audit trail", "Terminate", "Bella Billing (billing)"):
        assert words in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_terminate_through_the_page(web, running, db_snapshot):
    number, instance_id = next(iter(running.items()))
    admin = web("admin")
    before = db_snapshot()
    refused = admin.post(f"{LIST}/{instance_id}/terminate", {"reason": "  "})
    assert refused.status_code == 422 and "Reason is required" in refused.text
    assert admin.post(f"{LIST}/{instance_id}/terminate", {"reason": "x"}, csrf=False).status_code == 400
    assert db_snapshot() == before
    done = admin.post(f"{LIST}/{instance_id}/terminate", {"reason": "Handled by phone"}, follow_redirects=True)
    assert "Terminated" in done.text
    invoice_page = web("billing").get(f"/billing/invoices/{number}").text
    assert "Terminated" in invoice_page and "Handled by phone" in invoice_page
    before = db_snapshot()
    again = admin.post(f"{LIST}/{instance_id}/terminate", {"reason": "again"})
    assert again.status_code == 409 and "already Terminated" in again.text
    assert db_snapshot() == before


def test_retry_through_the_page(web, demo, session_factory, ledger, incident_probe, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    billing = web("billing")
    saved = billing.post(
        task_url(number, "request_cancellation"),
        {"reason": "duplicate", "remarks": "x"},
        follow_redirects=True,
    )
    assert "Your input was saved" in saved.text and "clinic administrator" in saved.text
    with unit_of_work(session_factory) as s:
        instance_id = s.scalar(select(ProcessInstance.id))
    admin = web("admin")
    assert "Incident" in admin.get(LIST).text
    failed = admin.post(f"{LIST}/{instance_id}/retry", follow_redirects=True)
    assert "The retry failed again" in failed.text and "ledger unreachable" in failed.text
    ledger.down = False
    ok = admin.post(f"{LIST}/{instance_id}/retry", follow_redirects=True)
    assert "Retried: the step went through" in ok.text and "Running" in ok.text
    before = db_snapshot()
    assert admin.post(f"{LIST}/{instance_id}/retry").status_code == 409
    assert db_snapshot() == before


def test_admin_pages_are_for_admins_of_the_clinic(web, demo, running, db_snapshot):
    instance_id = next(iter(running.values()))
    before = db_snapshot()
    for username in ("billing", "approver", "supervisor", "lakeside"):
        client = web(username)
        assert client.get(LIST).status_code == 403
        assert client.get(LIST + ".csv").status_code == 403
        assert client.get(f"{LIST}/{instance_id}").status_code == 403
        assert client.post(f"{LIST}/{instance_id}/terminate", {"reason": "x"}).status_code == 403
        assert client.post(f"{LIST}/{instance_id}/retry").status_code == 403
    assert db_snapshot() == before


def test_another_clinics_instance_is_not_found(web, demo, session_factory, db_snapshot):
    from engine.accounts.users import hash_password
    from engine.models import RoleGrant, User

    number = demo.invoice_numbers("LS")[0]
    demo.cancel("lakeside", number, "x")
    with unit_of_work(session_factory) as s:
        instance_id = s.scalar(select(ProcessInstance.id))
        lakeside = s.scalar(select(Clinic).where(Clinic.name == "Lakeside Clinic"))
        user = User(username="lsadmin", full_name="Lake Admin", password_hash=hash_password("demo"))
        s.add(user)
        s.flush()
        s.add(RoleGrant(user_id=user.id, clinic_id=lakeside.id, role="admin"))
    before = db_snapshot()
    northside_admin = web("admin")
    assert northside_admin.get(f"{LIST}/{instance_id}").status_code == 404
    assert northside_admin.post(f"{LIST}/{instance_id}/terminate", {"reason": "x"}).status_code == 404
    assert number not in northside_admin.get(LIST).text
    assert web("lsadmin").get(f"{LIST}/{instance_id}").status_code == 200
    assert db_snapshot() == before
