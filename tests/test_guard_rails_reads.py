"""Issue 9, item 2: reads never run diagram code; the first user task is read from the spec."""

from __future__ import annotations

import pytest
from helpers import REQUEST, assert_error, copy_with

from engine.db import unit_of_work
from engine.errors import Invalid
from engine.usecases import deployments

START_FLOW = (
    '<bpmn:sequenceFlow id="flow_start_request_cancellation" sourceRef="start" targetRef="request_cancellation" />'
)


def _with_script_before_the_first_task(script: str) -> bytes:
    """The shipped request process with a script task between its start event and Invoice Cancellation Request."""
    return copy_with(
        REQUEST,
        (
            START_FLOW,
            '<bpmn:sequenceFlow id="flow_start_precheck" sourceRef="start" targetRef="precheck" />\n'
            '<bpmn:scriptTask id="precheck" name="Precheck" scriptFormat="python">'
            f"<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>\n"
            '<bpmn:sequenceFlow id="flow_start_request_cancellation" sourceRef="precheck" '
            'targetRef="request_cancellation" />',
        ),
    )


def test_a_failing_script_before_the_first_task_fails_only_the_action_that_runs_it(
    demo, session_factory, web, api, db_snapshot
):
    with unit_of_work(session_factory) as s:
        deployments.deploy(s, demo.actor("analyst"), REQUEST, _with_script_before_the_first_task("x = 1/0"))
    number = demo.invoice_numbers("NS")[0]
    billing = web("billing")
    assert billing.get("/billing/invoices").status_code == 200
    assert billing.get(f"/billing/invoices/{number}").status_code == 200
    client = api("billing")
    listed = client.get("/api/invoices")
    assert listed.status_code == 200 and "request_cancellation" in listed.json["items"][0]["allowed_actions"]
    assert client.get(f"/api/invoices/{number}").status_code == 200
    assert client.get("/api/cancellation-requests/form").status_code == 200
    before = db_snapshot()
    refused = client.post(f"/api/invoices/{number}/cancellation-requests", {"reason": "other", "remarks": "x"})
    assert_error(refused, 409, "conflict", "'Precheck' of the process failed (ZeroDivisionError)")
    assert db_snapshot() == before


def test_a_start_that_reaches_a_gateway_before_a_user_task_is_refused(demo, session_factory):
    data = copy_with(
        REQUEST,
        (
            START_FLOW,
            '<bpmn:sequenceFlow id="flow_start_split" sourceRef="start" targetRef="split" />\n'
            '<bpmn:parallelGateway id="split" />\n'
            '<bpmn:sequenceFlow id="flow_start_request_cancellation" sourceRef="split" '
            'targetRef="request_cancellation" />',
        ),
    )
    with unit_of_work(session_factory) as s, pytest.raises(Invalid, match="reaches the gateway 'split'"):
        deployments.deploy(s, demo.actor("analyst"), REQUEST, data)
