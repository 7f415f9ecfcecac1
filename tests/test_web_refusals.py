"""Every bad input gets a clear message on the page and writes nothing."""

from __future__ import annotations

import pytest
from helpers import review_url, task_url
from sqlalchemy import select

from engine.db import unit_of_work

QUEUE = "/billing/financial-approval/"


@pytest.fixture
def number(demo):
    return demo.invoice_numbers("NS")[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reason": "duplicate", "remarks": ""}, "Remarks is required: enter it before saving."),
        ({"reason": "duplicate", "remarks": "   \n  "}, "Remarks is required: enter it before saving."),
        (
            {"reason": "duplicate", "remarks": "x" * 1001},
            "Remarks is 1001 characters long; shorten it to at most 1000",
        ),
        ({"remarks": "Billed twice"}, "Reason is required: choose one of Duplicate invoice, Wrong patient"),
        (
            {"reason": "boredom", "remarks": "Billed twice"},
            "Reason must be one of: Duplicate invoice, Wrong patient",
        ),
    ],
)
def test_bad_request_form_is_refused_with_a_message(web, number, db_snapshot, data, message):
    client = web("billing")
    before = db_snapshot()
    response = client.post(task_url(number, "request_cancellation"), data)
    assert response.status_code == 422
    assert message in response.text
    assert "nothing was saved" in response.text
    assert db_snapshot() == before


def test_entered_values_are_kept_after_a_refusal(web, number):
    response = web("billing").post(task_url(number, "request_cancellation"), {"reason": "wrong_amount", "remarks": ""})
    assert '<option value="wrong_amount" selected>' in response.text


def test_second_request_while_one_is_pending(web, number, db_snapshot):
    client = web("billing")
    client.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "first"})
    before = db_snapshot()
    response = client.post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "second"})
    assert response.status_code == 409
    assert "already has an open cancellation (Requested)" in response.text
    assert db_snapshot() == before
    assert client.get(task_url(number, "request_cancellation")).status_code == 409


def test_cancel_before_approval_in_an_approval_clinic(web, number, db_snapshot):
    client = web("billing")
    before = db_snapshot()
    response = client.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "now"})
    assert response.status_code == 409
    assert "Cancel Invoice is not possible yet: start with Invoice Cancellation Request." in response.text
    assert db_snapshot() == before


def test_request_or_cancel_on_a_cancelled_invoice(web, demo, db_snapshot):
    number = demo.invoice_numbers("LS")[0]
    client = web("lakeside")
    client.post(task_url(number, "cancel_invoice"), {"cancel_remarks": "duplicate"})
    before = db_snapshot()
    for element_id, data in (("cancel_invoice", {"cancel_remarks": "again"}), ("request_cancellation", {})):
        response = client.post(task_url(number, element_id), data)
        assert response.status_code == 409
        assert "already cancelled" in response.text
    assert db_snapshot() == before


def test_decisions_refused(web, number, session_factory, db_snapshot):
    web("supervisor").post(task_url(number, "request_cancellation"), {"reason": "duplicate", "remarks": "mine"})
    url = review_url(session_factory, number)
    supervisor, approver, admin = web("supervisor"), web("approver"), web("admin")
    before = db_snapshot()

    own = supervisor.get(url)
    assert own.status_code == 200 and "you cannot decide it" in own.text and 'name="decision"' not in own.text
    assert supervisor.post(url, {"decision": "approve"}).status_code == 403

    no_remarks = approver.post(url, {"decision": "reject", "decision_remarks": "  "})
    assert no_remarks.status_code == 422
    assert "Remarks is required when Decision is Reject" in no_remarks.text
    assert approver.post(url, {}).status_code == 422
    assert db_snapshot() == before

    assert approver.post(url, {"decision": "approve"}).status_code == 302
    before = db_snapshot()
    late = admin.post(url, {"decision": "reject", "decision_remarks": "too late"})
    assert late.status_code == 409
    assert "already decided: it is Approved by Arjun Approver" in late.text
    assert db_snapshot() == before


def test_roles_and_clinics_are_checked_on_every_route(web, demo, session_factory, db_snapshot):
    ns = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(ns, "request_cancellation"), {"reason": "duplicate", "remarks": "x"})
    url = review_url(session_factory, ns)
    billing, lakeside = web("billing"), web("lakeside")
    before = db_snapshot()
    assert billing.get(QUEUE).status_code == 403
    assert billing.get(url).status_code == 403
    assert billing.post(url, {"decision": "approve"}).status_code == 403
    for response in (
        lakeside.get(f"/billing/invoices/{ns}"),
        lakeside.get(task_url(ns, "cancel_invoice")),
        lakeside.post(task_url(ns, "cancel_invoice"), {"cancel_remarks": "x"}),
    ):
        assert response.status_code == 404
    approver = web("approver")
    assert approver.get(f"/billing/invoices/{demo.invoice_numbers('LS')[0]}").status_code == 404
    assert approver.post(task_url(ns, "cancel_invoice"), {"cancel_remarks": "x"}).status_code == 403
    assert db_snapshot() == before


def test_another_clinics_request_is_not_found(web, demo, session_factory, db_snapshot):
    """A Lakeside approver does not exist in the demo; a Northside request seen from another clinic is 404."""
    from engine.accounts.users import hash_password
    from engine.models import Clinic, RoleGrant, User

    with unit_of_work(session_factory) as s:
        lakeside = s.scalar(select(Clinic).where(Clinic.name == "Lakeside Clinic"))
        user = User(username="lsapprover", full_name="Lake Approver", password_hash=hash_password("demo"))
        s.add(user)
        s.flush()
        s.add(RoleGrant(user_id=user.id, clinic_id=lakeside.id, role="approver"))
    ns = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(ns, "request_cancellation"), {"reason": "duplicate", "remarks": "x"})
    url = review_url(session_factory, ns)
    before = db_snapshot()
    other = web("lsapprover")
    assert other.get(url).status_code == 404
    assert other.post(url, {"decision": "approve"}).status_code == 404
    assert ns not in other.get(QUEUE).text
    assert db_snapshot() == before


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_missing_or_forged_csrf_token(web, number, db_snapshot, token):
    client = web("billing")
    before = db_snapshot()
    data = {"reason": "duplicate", "remarks": "x"}
    if token:
        data["csrf_token"] = token
    response = client.post(task_url(number, "request_cancellation"), data, csrf=False)
    assert response.status_code == 400
    assert "security token" in response.text
    assert db_snapshot() == before


def test_html_in_remarks_is_shown_as_text(web, number, session_factory):
    remarks = '<script>alert("x")</script><b>bold</b>'
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": remarks})
    for page in (
        web("approver").get(QUEUE).text,
        web("approver").get(review_url(session_factory, number)).text,
    ):
        assert "<script>alert" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page


def test_pages_send_a_content_security_policy(web):
    response = web().get("/login")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_opening_a_form_and_leaving_creates_nothing(web, number, db_snapshot):
    client = web("billing")
    before = db_snapshot()
    assert client.get(task_url(number, "request_cancellation")).status_code == 200
    assert client.get(f"/billing/invoices/{number}").status_code == 200
    assert db_snapshot() == before


def test_deactivated_user_cannot_log_in_and_is_logged_out(web, demo, session_factory):
    from engine.models import User

    client = web("billing")
    with unit_of_work(session_factory) as s:
        s.scalar(select(User).where(User.username == "billing")).active = False
    assert client.get("/billing/invoices").status_code == 302  # the session no longer counts
    refused = web().login("billing")
    assert refused.status_code == 401 and "Username or password is not right" in refused.text


def test_unknown_step_is_not_found(web, number, db_snapshot):
    before = db_snapshot()
    assert web("billing").post(task_url(number, "no_such_step"), {"x": "1"}).status_code == 404
    assert db_snapshot() == before


def test_login_page_sends_a_logged_in_user_on(web, demo):
    client = web("billing")
    response = client.get("/login")
    assert response.status_code == 302 and response.location.endswith("/billing/invoices")
    assert client.get("/login?next=//evil.example/").location.endswith("/billing/invoices")
