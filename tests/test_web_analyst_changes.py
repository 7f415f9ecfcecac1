"""Five changes with no code: an analyst edits a copy of the shipped diagrams, deploys it, and the product follows.

Each test uploads through the Processes page as the demo analyst and drives the lifecycle through the pages.
"""

from __future__ import annotations

import re

import pytest
from helpers import REQUEST, copy_with, review_url, row_of, task_url, upload

POLICY = "approval_policy.dmn"
QUEUE = "/billing/financial-approval/"


def approval_cell(client, number: str) -> str:
    html = client.get("/billing/invoices", query_string={"q": number}).text
    return re.findall(r"<td>(.*?)</td>", row_of(html, number), re.S)[-1].strip()


@pytest.fixture
def analyst(web, demo):
    return web("analyst")


def test_1_a_form_field_added_to_the_request_appears_is_validated_and_kept(analyst, web, demo):
    field = (
        '<camunda:formField id="duplicate_of" label="Duplicate of invoice" type="string">'
        '<camunda:validation><camunda:constraint name="required" config="true" />'
        '<camunda:constraint name="maxlength" config="20" /></camunda:validation></camunda:formField>\n          '
    )
    marker = '<camunda:formField id="remarks"'
    deployed = upload(analyst, REQUEST, copy_with(REQUEST, (marker, field + marker)))
    assert deployed.status_code == 302
    assert "is now version 2" in analyst.get("/admin/processes/").text
    billing, number = web("billing"), demo.invoice_numbers("NS")[0]
    url = task_url(number, "request_cancellation")
    assert "Duplicate of invoice" in billing.get(url).text
    refused = billing.post(url, {"reason": "duplicate", "remarks": "x"})
    assert refused.status_code == 422 and "Duplicate of invoice is required" in refused.text
    too_long = billing.post(url, {"reason": "duplicate", "remarks": "x", "duplicate_of": "N" * 21})
    assert "shorten it to at most 20" in too_long.text
    ok = billing.post(url, {"reason": "duplicate", "remarks": "x", "duplicate_of": "NS-2026-00007"})
    assert ok.status_code == 302
    history = billing.get(f"/billing/invoices/{number}").text
    assert "Duplicate of invoice" in history and "NS-2026-00007" in history


def test_2_a_changed_dmn_threshold_routes_just_below_and_just_above(analyst, web, demo, session_factory):
    dmn = copy_with(POLICY, ("&lt; 1000", "&lt; 500"), ("&gt;= 1000", "&gt;= 500"))
    assert upload(analyst, POLICY, dmn).status_code == 302
    below, above = demo.invoice_numbers("NS")[:2]
    demo.set_amount(below, "499.99")
    demo.set_amount(above, "500.00")
    billing, approver = web("billing"), web("approver")
    for number in (below, above):
        billing.post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
        assert approver.post(review_url(session_factory, number), {"decision": "approve"}).status_code == 302
    assert approval_cell(billing, below) == "Approved"
    assert approval_cell(billing, above) == "Requested — awaiting Clinic administrator (approval 2 of 2)"


def test_3_the_review_moved_to_another_lane_goes_to_that_roles_queue(analyst, web, demo):
    moved = copy_with(
        REQUEST,
        ("<bpmn:flowNodeRef>review_request</bpmn:flowNodeRef>", ""),
        (
            "<bpmn:flowNodeRef>second_approval</bpmn:flowNodeRef>",
            "<bpmn:flowNodeRef>second_approval</bpmn:flowNodeRef><bpmn:flowNodeRef>review_request</bpmn:flowNodeRef>",
        ),
    )
    assert upload(analyst, REQUEST, moved).status_code == 302
    number = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    assert number not in web("approver").get(QUEUE).text
    admin_queue = web("admin").get(QUEUE).text
    assert number in admin_queue and "awaiting Clinic administrator" in admin_queue


def test_4_a_script_task_added_sets_a_variable_shown_in_the_history(analyst, web, demo):
    script = (
        '<bpmn:scriptTask id="set_priority" name="Set priority" scriptFormat="python">'
        "<bpmn:incoming>flow_record_request_set_priority</bpmn:incoming>"
        "<bpmn:outgoing>flow_set_priority_decide_approvals</bpmn:outgoing>"
        '<bpmn:script>priority = "high" if amount &gt;= 500 else "normal"</bpmn:script></bpmn:scriptTask>\n'
        '    <bpmn:sequenceFlow id="flow_set_priority_decide_approvals" sourceRef="set_priority" '
        'targetRef="decide_approvals" />\n    '
    )
    changed = copy_with(
        REQUEST,
        (
            "<bpmn:outgoing>flow_record_request_decide_approvals</bpmn:outgoing>",
            "<bpmn:outgoing>flow_record_request_set_priority</bpmn:outgoing>",
        ),
        (
            "<bpmn:incoming>flow_record_request_decide_approvals</bpmn:incoming>",
            "<bpmn:incoming>flow_set_priority_decide_approvals</bpmn:incoming>",
        ),
        (
            '<bpmn:sequenceFlow id="flow_record_request_decide_approvals" sourceRef="record_request" '
            'targetRef="decide_approvals" />',
            script + '<bpmn:sequenceFlow id="flow_record_request_set_priority" sourceRef="record_request" '
            'targetRef="set_priority" />',
        ),
        (
            'bpmnElement="flow_record_request_decide_approvals"',
            'bpmnElement="flow_record_request_set_priority"',
        ),
    )
    assert upload(analyst, REQUEST, changed).status_code == 302
    number = demo.invoice_numbers("NS")[0]
    billing = web("billing")
    billing.post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    history = billing.get(f"/billing/invoices/{number}").text
    assert re.search(r"<td>Set priority</td>\s*<td><dl class=\"values\"><dt>priority</dt><dd>normal</dd>", history)


def test_5_a_broken_diagram_is_refused_and_the_running_version_keeps_working(
    analyst, web, demo, session_factory, db_snapshot
):
    first = demo.invoice_numbers("NS")[0]
    billing = web("billing")
    billing.post(task_url(first, "request_cancellation"), {"reason": "other", "remarks": "in flight"})
    before = db_snapshot()
    broken = copy_with(
        REQUEST,
        (
            '<bpmn:userTask id="second_approval" name="Second approval">',
            '<bpmn:userTask id="second_approval" name="Second approval" colour="red">',
        ),
    )
    refused = upload(analyst, REQUEST, broken)
    assert refused.status_code == 422
    line = next(n for n, text in enumerate(broken.decode().splitlines(), 1) if 'colour="red"' in text)
    assert f"{REQUEST}:{line}: second_approval: " in refused.text
    assert db_snapshot() == before
    assert web("approver").post(review_url(session_factory, first), {"decision": "approve"}).status_code == 302
    second = demo.invoice_numbers("NS")[1]
    saved = billing.post(task_url(second, "request_cancellation"), {"reason": "other", "remarks": "new"})
    assert saved.status_code == 302
    assert approval_cell(billing, first) == "Approved" and approval_cell(billing, second).startswith("Requested")
