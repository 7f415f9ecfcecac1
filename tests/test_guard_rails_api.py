"""Issue 9 guard rails on the JSON API and the CLI: reused idempotency keys, incidents told truthfully, deep
bodies, unreadable diagram files. Each test failed on the code before its fix."""

from __future__ import annotations

import subprocess
import sys

from helpers import assert_error
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import IdempotentResponse, ProcessInstance


def test_the_same_idempotency_key_with_another_body_is_refused_and_writes_nothing(api, demo, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    billing = api("billing")
    key = {"Idempotency-Key": "emr-77"}
    first = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "A"}, key)
    assert first.status_code == 201
    before = db_snapshot()
    other = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "B"}, key)
    assert_error(other, 422, "idempotency_key_reused", "different body")
    assert db_snapshot() == before
    # the same body, keys in another order, is the same request: replayed
    again = billing.post(f"/api/invoices/{number}/cancellation-requests", {"remarks": "A", "reason": "other"}, key)
    assert again.status_code == 201 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"


def test_a_record_from_before_fingerprints_still_replays(api, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    billing = api("billing")
    key = {"Idempotency-Key": "old-1"}
    first = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "A"}, key)
    with unit_of_work(session_factory) as s:
        s.scalar(select(IdempotentResponse)).request_hash = None  # kept before migration 0008
    again = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "A"}, key)
    assert again.status_code == 201 and again.json == first.json


def test_a_saved_step_whose_next_step_failed_answers_202_with_the_incident(api, incident_probe, session_factory):
    billing = api("billing")
    number = billing.get("/api/invoices?per_page=1").json["items"][0]["number"]
    body = {"reason": "duplicate", "remarks": "Maria Tanaka billed twice"}
    answer = billing.post(f"/api/invoices/{number}/cancellation-requests", body)
    assert answer.status_code == 202, answer.json
    incident = answer.json["incident"]
    assert incident["element"] == "post_to_ledger" and incident["at"]
    assert "ConnectionError" in incident["message"] and "administrator" in incident["message"]
    assert "Maria" not in incident["message"] and "unreachable" not in incident["message"]  # no script text
    assert answer.json["status"] == "requested"  # the saved state
    with unit_of_work(session_factory) as s:
        assert s.scalar(select(ProcessInstance.status)) == "incident"
    admin = api("admin")
    detail = admin.get(f"/api/process-instances/{answer.json['process_instance_id']}").json
    assert "ledger unreachable" in detail["incident"]["message"]  # the clinic administrator sees the full text


def test_the_openapi_document_describes_the_202(api):
    document = api().get("/api/openapi.json").json
    for path in ("/api/invoices/{number}/cancellation-requests", "/api/invoices/{number}/cancel"):
        assert "202" in document["paths"][path]["post"]["responses"]
    assert "Incident" in document["components"]["schemas"]


def test_a_body_nested_too_deep_gets_a_400_before_login_and_after(api, demo):
    deep = b"[" * 50_000 + b"]" * 50_000
    anonymous = api()
    refused = anonymous.client.post("/api/tokens", data=deep, content_type="application/json")
    assert_error(refused, 400, "bad_request", "nested 50000 levels")
    billing = api("billing")
    number = demo.invoice_numbers("NS")[0]
    nested = {"reason": "other", "remarks": "x"}
    for _ in range(40):
        nested = {"x": nested}
    assert_error(billing.post(f"/api/invoices/{number}/cancellation-requests", nested), 400, "bad_request", "32")
    shallow = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "[[[{{{"})
    assert shallow.status_code == 201  # brackets inside strings do not count


def test_cli_validate_reports_a_non_utf8_file_without_a_traceback(tmp_path):
    (tmp_path / "broken.bpmn").write_bytes(b'<?xml version="1.0"?>\n<definitions>\xff\xfe</definitions>')
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'broken.bpmn'}:0: -: the file is not UTF-8 text" in done.stderr
