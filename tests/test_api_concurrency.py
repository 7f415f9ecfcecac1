"""Real concurrent HTTP calls against the live server: one request from a double submit, one decision."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from helpers import run_together


def call(base: str, method: str, path: str, payload=None, token=None) -> tuple[int, dict]:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local test server
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def token(base: str, username: str) -> str:
    return call(base, "POST", "/api/tokens", {"username": username, "password": "demo"})[1]["token"]


def test_simultaneous_duplicate_submissions_create_one_request(live_server, demo):
    number = demo.invoice_numbers("NS")[0]
    billing = token(live_server, "billing")
    body = {"reason": "duplicate", "remarks": "double click"}
    path = f"/api/invoices/{number}/cancellation-requests"
    results = run_together(*[lambda: call(live_server, "POST", path, body, billing) for _ in range(4)])
    assert sorted(status for status, _ in results) == [201, 409, 409, 409]
    listed = call(live_server, "GET", "/api/cancellation-requests", token=billing)[1]
    assert listed["total"] == 1


def test_two_approvers_at_once_give_one_decision_and_the_other_learns_who(live_server, demo):
    number = demo.invoice_numbers("NS")[1]
    billing, approver, admin = (token(live_server, u) for u in ("billing", "approver", "admin"))
    rid = call(live_server, "POST", f"/api/invoices/{number}/cancellation-requests",
               {"reason": "other", "remarks": "x"}, billing)[1]["id"]  # fmt: skip
    path = f"/api/cancellation-requests/{rid}/decision"
    results = run_together(
        lambda: call(live_server, "POST", path, {"decision": "approve"}, approver),
        lambda: call(live_server, "POST", path, {"decision": "reject", "remarks": "no"}, admin),
    )
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409], results
    winner = next(body for status, body in results if status == 200)["decision"]["decided_by"]
    loser = next(body for status, body in results if status == 409)
    assert "already decided" in loser["error"]["message"] and f"({winner})" in loser["error"]["message"]
