"""Issue 13: Withdraw Request lives in the diagram: an interrupting boundary message event with a form on each
approval step. The engine offers every such event of a waiting step as a More Action item; the requester withdraws
with remarks, the instance ends, the request is Withdrawn; an analyst who removes the event removes the item."""

from __future__ import annotations

import re

from helpers import REQUEST, assert_error, copy_with, latest_request_id, task_url, upload
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import CancellationRequest, Invoice, ProcessInstance

WITHDRAW = "withdraw_review"


def _state(session_factory, number: str) -> tuple:
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        request = s.scalar(select(CancellationRequest).where(CancellationRequest.invoice_id == invoice.id))
        instance = s.get(ProcessInstance, request.instance_id)
        return invoice.approval_status, request.status, instance.status


def test_the_requester_withdraws_on_the_page_and_the_request_leaves_every_queue(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    billing = web("billing")
    page = billing.get(f"/billing/invoices/{number}").text
    assert re.search(r'<a[^>]*role="menuitem"[^>]*>Withdraw Request</a>', page)
    form = billing.get(task_url(number, WITHDRAW)).text
    assert "Withdraw Request" in form and 'name="withdraw_remarks"' in form
    refused = billing.post(task_url(number, WITHDRAW), {"withdraw_remarks": ""})
    assert refused.status_code == 422 and "Remarks is required" in refused.text

    assert billing.post(task_url(number, WITHDRAW), {"withdraw_remarks": "Paid after all"}).status_code == 302
    assert _state(session_factory, number) == ("withdrawn", "withdrawn", "completed")
    history = billing.get(f"/billing/invoices/{number}").text
    assert "Request withdrawn" in history and "Paid after all" in history and "Bella Billing" in history
    approver = web("approver")
    assert number not in approver.get("/billing/financial-approval/").text
    assert 'Requests waiting for your decision <span class="count">(0)' in approver.get("/home").text
    withdrawn = billing.get("/billing/invoices", query_string={"approval": "withdrawn"}).text
    assert f'data-number="{number}"' in withdrawn
    assert re.search(r'<a[^>]*role="menuitem"[^>]*>Invoice Cancellation Request</a>', history)  # may ask again


def test_withdraw_by_the_api_and_refusals_write_nothing(web, demo, api, session_factory, db_snapshot):
    first, second = demo.invoice_numbers("NS")[1:3]
    demo.request("billing", first)
    demo.request("billing", second)
    demo.decide("approver", second)  # decided: waits for Cancel Invoice now
    first_id, second_id = latest_request_id(session_factory, first), latest_request_id(session_factory, second)
    billing, approver = api("billing"), api("approver")

    before = db_snapshot()
    by_other = approver.post(f"/api/cancellation-requests/{first_id}/withdraw", {"remarks": "not mine"})
    assert_error(by_other, 403, "forbidden", "is for the person who made the request, Bella Billing")
    late = billing.post(f"/api/cancellation-requests/{second_id}/withdraw", {"remarks": "too late"})
    assert_error(late, 409, "conflict", "only a request waiting for a decision can be withdrawn")
    page = web("billing").post(task_url(second, WITHDRAW), {"withdraw_remarks": "too late"})
    assert page.status_code == 409 and "possible only while the request waits for Review request" in page.text
    empty = billing.post(f"/api/cancellation-requests/{first_id}/withdraw", {"remarks": ""})
    assert_error(empty, 422, "invalid", "Remarks is required")
    assert db_snapshot() == before

    done = billing.post(f"/api/cancellation-requests/{first_id}/withdraw", {"remarks": "Billing fixed it"})
    assert done.status_code == 200 and done.json["status"] == "withdrawn" and done.json["waiting_for"] is None


def test_an_analyst_who_removes_the_event_removes_the_menu_item(web, demo):
    analyst = web("analyst")
    without = copy_with(REQUEST)
    text = without.decode()
    text = re.sub(r'<bpmn:boundaryEvent id="withdraw_review".*?</bpmn:boundaryEvent>\s*', "", text, flags=re.S)
    text = re.sub(r"\s*<bpmn:flowNodeRef>withdraw_review</bpmn:flowNodeRef>", "", text)
    text = re.sub(r"\s*<bpmn:incoming>flow_withdraw_review_record_withdrawal</bpmn:incoming>", "", text)
    text = re.sub(r'\s*<bpmn:sequenceFlow id="flow_withdraw_review_record_withdrawal"[^>]*/>', "", text)
    text = re.sub(r'\s*<bpmndi:BPMNShape id="withdraw_review_di".*?</bpmndi:BPMNShape>', "", text, flags=re.S)
    text = re.sub(
        r'\s*<bpmndi:BPMNEdge id="flow_withdraw_review_record_withdrawal_di".*?</bpmndi:BPMNEdge>', "", text, flags=re.S
    )  # noqa: E501
    assert upload(analyst, REQUEST, text.encode()).status_code == 302

    number = demo.invoice_numbers("NS")[3]
    demo.request("billing", number)  # on the new version: Review request has no Withdraw Request any more
    page = web("billing").get(f"/billing/invoices/{number}").text
    assert "Withdraw Request" not in page
    assert "Invoice Cancellation Request" in page
