"""Odd input never becomes a server error: it gets a message and changes nothing."""

from __future__ import annotations

import pytest
from helpers import review_url, task_url


@pytest.mark.parametrize(
    "url",
    [
        "/billing/invoices?page=²",
        "/billing/financial-approval/?page=²",
        "/admin/instances?page=²&version=²",
        "/admin/processes/compare?old=²&new=1",
    ],
)
def test_non_ascii_digits_are_not_numbers(web, demo, url):
    client = web("admin") if "/admin/" in url else web("supervisor")
    assert client.get(url).status_code in (200, 422)


@pytest.mark.parametrize(
    "url",
    [
        "/billing/financial-approval/?from=9999-12-31",
        "/billing/financial-approval/?to=0001-01-01",
        "/admin/instances?from=9999-12-31",
        "/admin/instances.csv?to=9999-12-31",
    ],
)
def test_dates_at_the_edge_of_the_calendar_are_refused(web, demo, url):
    client = web("admin")
    response = client.get(url)
    assert response.status_code == 422 and "between 1900 and 9998" in response.text


def test_nul_characters_are_refused_everywhere(web, demo, db_snapshot, app):
    number = demo.invoice_numbers("NS")[0]
    billing = web("billing")
    before = db_snapshot()
    assert billing.get("/billing/invoices?q=a%00b").status_code == 422
    assert billing.get("/billing/invoices/a%00b").status_code == 422
    saved = billing.post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x\x00y"})
    assert saved.status_code == 422 and "NUL character" in saved.text
    api = app.test_client()
    refused = api.post("/api/tokens", json={"username": "a\u0000", "password": "demo"})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "invalid"
    assert db_snapshot() == before


def test_a_body_over_2_mb_is_refused_before_it_is_read(app, demo):
    response = app.test_client().post("/api/tokens", data=b"x" * (2 * 1024 * 1024 + 1), content_type="application/json")
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"


def test_a_malformed_review_step_is_refused(web, demo, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    url = review_url(session_factory, number)
    before = db_snapshot()
    stale = web("approver").post(url, {"decision": "approve", "step": "9" * 30})
    assert stale.status_code == 409 and "out of date" in stale.text
    assert db_snapshot() == before


def test_an_idempotency_key_over_200_characters_is_refused(app, demo):
    client = app.test_client()
    token = client.post("/api/tokens", json={"username": "billing", "password": "demo"}).json["token"]
    number = demo.invoice_numbers("NS")[0]
    response = client.post(
        f"/api/invoices/{number}/cancellation-requests",
        json={"reason": "other", "remarks": "x"},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k" * 201},
    )
    assert response.status_code == 422 and "at most 200 characters" in response.json["error"]["message"]
