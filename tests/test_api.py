"""The JSON API through Flask's client: the contract, its errors, clinic isolation and idempotency."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from helpers import Api, assert_error
from sqlalchemy import select, update

from engine.db import unit_of_work
from engine.models import ApiToken, CancellationRequest
from engine.workflow.parsing import PROCESSES_DIR


def test_tokens_are_hashed_expire_and_can_be_revoked(api, session_factory):
    assert_error(api().post("/api/tokens", {"username": "billing", "password": "wrong"}), 401, "unauthenticated")
    billing = api("billing")
    with unit_of_work(session_factory) as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert billing.token not in stored and len(stored[0]) == 64
    assert billing.get("/api/invoices").status_code == 200
    assert billing.delete("/api/tokens/current").status_code == 204
    assert_error(billing.get("/api/invoices"), 401, "unauthenticated", "revoked")
    other = api("billing")
    with unit_of_work(session_factory) as s:
        s.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert_error(other.get("/api/invoices"), 401, "unauthenticated", "expired")
    assert_error(api().get("/api/invoices"), 401, "unauthenticated", "Bearer")
    assert_error(Api(other.client, "made-up").get("/api/invoices"), 401, "unauthenticated")


def test_errors_are_json_for_bad_bodies_and_unknown_paths(api, demo):
    billing = api("billing")
    number = demo.invoice_numbers("NS")[0]
    bad = billing.client.post(
        f"/api/invoices/{number}/cancellation-requests", data="{not json", headers=billing.headers()
    )
    assert_error(bad, 400, "bad_request", "JSON object")
    assert_error(billing.post(f"/api/invoices/{number}/cancellation-requests", [1, 2]), 400, "bad_request")
    assert_error(billing.get("/api/nothing-here"), 404, "not_found")
    assert_error(billing.get("/api/invoices?page=0"), 422, "invalid", "page")
    assert_error(billing.get("/api/invoices?status=lost"), 422, "invalid", "status")


def test_whole_lifecycle_with_two_approvals(api, demo):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "1500.00")
    billing, approver, admin = api("billing"), api("approver"), api("admin")
    form = billing.get("/api/cancellation-requests/form").json
    assert [f["id"] for f in form["fields"]] == ["reason", "remarks"]
    assert [v["id"] for v in form["fields"][0]["enum_values"]] == [
        "duplicate",
        "wrong_patient",
        "wrong_amount",
        "other",
    ]
    created = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "duplicate", "remarks": "Twice"})
    assert created.status_code == 201
    req = created.json
    assert (req["status"], req["waiting_for"]) == (
        "requested",
        {"task": "Review request", "role": "Approver, Clinic administrator"},
    )
    # From 1,000.00 the policy asks for two decisions: the client knows it from the start, as the pages say it.
    assert (req["approvals_needed"], req["approvals_left"], req["outcome"]) == (2, 2, None)
    assert req["approval_path"] == "Approver or Clinic administrator, then Clinic administrator"
    invoice = billing.get(f"/api/invoices/{number}").json
    assert invoice["amount"] == "1500.00" and invoice["allowed_actions"] == []
    assert invoice["cancellation_request"]["id"] == req["id"] and invoice["history"]

    step = approver.get(f"/api/cancellation-requests/{req['id']}/decision/form").json
    assert step["task"] == "Review request" and [f["id"] for f in step["fields"]] == ["decision", "decision_remarks"]
    first = approver.post(f"/api/cancellation-requests/{req['id']}/decision", {"decision": "approve", "remarks": "ok"})
    assert first.status_code == 200
    assert first.json["status"] == "requested" and first.json["waiting_for"]["role"] == "Clinic administrator"
    assert (first.json["approvals_needed"], first.json["approvals_left"]) == (2, 1)
    assert first.json["approvals"][0] | {"decided_at": None} == {
        "step": "Review request", "decision": "approve", "remarks": "ok", "decided_by": "approver", "decided_at": None
    }  # fmt: skip
    assert_error(
        approver.post(f"/api/cancellation-requests/{req['id']}/decision", {"decision": "approve"}), 403, "forbidden"
    )
    stale = admin.post(
        f"/api/cancellation-requests/{req['id']}/decision", {"decision": "approve", "step_id": step["step_id"]}
    )
    assert_error(stale, 409, "conflict", "was just decided by Arjun Approver")
    final = admin.post(f"/api/cancellation-requests/{req['id']}/decision", {"decision": "approve"})
    assert final.json["status"] == "approved" and final.json["decision"]["decided_by"] == "admin"
    assert [a["step"] for a in final.json["approvals"]] == ["Review request", "Second approval"]
    assert billing.get(f"/api/invoices/{number}").json["allowed_actions"] == ["cancel"]
    cancelled = billing.post(f"/api/invoices/{number}/cancel", {"remarks": "Done"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert cancelled.json["cancellation_request"]["status"] == "completed"
    assert cancelled.json["cancellation_request"]["outcome"] == "cancelled"
    assert_error(
        admin.post(f"/api/cancellation-requests/{req['id']}/decision", {"decision": "reject", "remarks": "x"}),
        409,
        "conflict",
        "already decided",
    )


def test_refusals_follow_the_same_rules_as_the_pages(api, demo, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    billing, supervisor, lakeside, approver = api("billing"), api("supervisor"), api("lakeside"), api("approver")
    before = db_snapshot()
    invalid = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "boredom", "remarks": " "})
    assert_error(invalid, 422, "invalid")
    assert set(invalid.json["error"]["fields"]) == {"reason", "remarks"}
    assert_error(billing.post(f"/api/invoices/{number}/cancel", {"remarks": "x"}), 409, "conflict", "not possible yet")
    assert_error(lakeside.post(f"/api/invoices/{number}/cancel", {"remarks": "x"}), 404, "not_found")
    assert_error(
        lakeside.post(f"/api/invoices/{demo.invoice_numbers('LS')[0]}/cancellation-requests", {"reason": "other"}),
        409,
        "conflict",
        "cancels invoices directly",
    )
    assert db_snapshot() == before
    rid = supervisor.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "mine"}).json[
        "id"
    ]
    before = db_snapshot()
    assert_error(
        supervisor.post(f"/api/cancellation-requests/{rid}/decision", {"decision": "approve"}),
        403,
        "forbidden",
        "you cannot decide it",
    )
    assert_error(billing.post(f"/api/cancellation-requests/{rid}/decision", {"decision": "approve"}), 403, "forbidden")
    reject = approver.post(f"/api/cancellation-requests/{rid}/decision", {"decision": "reject"})
    assert_error(reject, 422, "invalid", "Remarks is required when Decision is Reject")
    assert db_snapshot() == before


def test_every_endpoint_keeps_clinics_apart(api, demo, session_factory):
    ns_number = demo.invoice_numbers("NS")[0]
    ns = api("billing")
    rid = ns.post(f"/api/invoices/{ns_number}/cancellation-requests", {"reason": "other", "remarks": "x"}).json["id"]
    with unit_of_work(session_factory) as s:
        instance_id = s.scalar(select(CancellationRequest.instance_id))
    from engine.accounts.users import hash_password
    from engine.models import Clinic, RoleGrant, User

    with unit_of_work(session_factory) as s:  # a Lakeside user holding every role
        lakeside = s.scalar(select(Clinic).where(Clinic.name == "Lakeside Clinic"))
        user = User(username="lsall", full_name="Lake All", password_hash=hash_password("demo"))
        s.add(user)
        s.flush()
        s.add_all(
            RoleGrant(user_id=user.id, clinic_id=lakeside.id, role=r) for r in ("billing_staff", "approver", "admin")
        )
    other = api("lsall")
    for response in (
        other.get(f"/api/invoices/{ns_number}"),
        other.post(f"/api/invoices/{ns_number}/cancellation-requests", {"reason": "other", "remarks": "x"}),
        other.post(f"/api/invoices/{ns_number}/cancel", {"remarks": "x"}),
        other.get(f"/api/cancellation-requests/{rid}"),
        other.get(f"/api/cancellation-requests/{rid}/decision/form"),
        other.post(f"/api/cancellation-requests/{rid}/decision", {"decision": "approve"}),
        other.get(f"/api/process-instances/{instance_id}"),
    ):
        assert_error(response, 404, "not_found")
    assert ns_number not in str(other.get("/api/invoices").json)
    assert other.get("/api/cancellation-requests").json["total"] == 0
    assert other.get("/api/process-instances").json["total"] == 0
    assert_error(ns.get("/api/process-instances"), 403, "forbidden")
    assert_error(ns.get(f"/api/process-instances/{instance_id}"), 403, "forbidden")
    admin = api("admin")
    detail = admin.get(f"/api/process-instances/{instance_id}").json
    assert detail["business_key"].endswith(ns_number) and [t["element_id"] for t in detail["ready_tasks"]] == [
        "review_request"
    ]
    assert [t["completed_by"] for t in detail["completed_tasks"]] == ["billing"]


def test_idempotency_key_replays_the_first_response(api, demo, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    billing = api("billing")
    key = {"Idempotency-Key": "emr-123"}
    first = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x"}, key)
    before = db_snapshot()
    again = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x"}, key)
    assert again.status_code == 201 and again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert db_snapshot() == before
    reused = billing.post(f"/api/invoices/{number}/cancel", {"remarks": "x"}, key)
    assert_error(reused, 422, "idempotency_key_reused", "used for another request")


def test_a_field_added_in_the_diagram_is_accepted_and_validated_without_code(api, demo, web):
    text = (PROCESSES_DIR / "invoice_cancellation_request.bpmn").read_text()
    field = (
        '<camunda:formField id="ticket" label="Ticket" type="long"><camunda:validation>'
        '<camunda:constraint name="required" config="true" /></camunda:validation></camunda:formField>\n'
    )
    marker = '<camunda:formField id="remarks"'
    data = text.replace(marker, field + marker, 1).encode()
    analyst = web("analyst")
    upload = {"file": (io.BytesIO(data), "invoice_cancellation_request.bpmn")}
    uploaded = analyst.post("/admin/processes/deploy", upload, content_type="multipart/form-data")
    assert uploaded.status_code == 302
    billing = api("billing")
    assert "ticket" in [f["id"] for f in billing.get("/api/cancellation-requests/form").json["fields"]]
    number = demo.invoice_numbers("NS")[0]
    missing = billing.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x"})
    assert_error(missing, 422, "invalid", "Ticket is required")
    wrong = billing.post(
        f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x", "ticket": "abc"}
    )
    assert wrong.json["error"]["fields"] == {"ticket": "Ticket must be a whole number, e.g. 3."}
    ok = billing.post(
        f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x", "ticket": 42}
    )
    assert ok.status_code == 201
    history = billing.get(f"/api/invoices/{number}").json["history"]
    assert ["Ticket", "42"] in history[0]["details"]["values"]


def test_openapi_document_names_exactly_the_api_routes(app, api):
    document = api().get("/api/openapi.json").json
    assert document["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops}
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = rule.rule.replace("<id:", "{").replace("<", "{").replace(">", "}")
            routed |= {(path, m) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == routed
