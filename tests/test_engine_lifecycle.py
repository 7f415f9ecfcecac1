"""Both diagrams' paths through the real engine, database and BPMN files (no web layer)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.errors import Conflict, Forbidden, Invalid, NotFound
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, UserTask
from engine.reads import offers
from engine.workflow.runtime import runtime_of


def invoice(uow, number) -> Invoice:
    with uow() as s:
        return s.scalar(select(Invoice).where(Invoice.number == number))


def test_approval_path_request_approve_cancel(demo, uow):
    billing, approver = demo.actor("billing"), demo.actor("approver")
    number = demo.invoice_numbers("NS")[0]

    demo.request("billing", number)
    assert invoice(uow, number).approval_status == "requested"
    with uow() as s:
        ready = s.scalars(select(UserTask).where(UserTask.state == "ready")).all()
        assert [(t.element_id, t.roles, t.screen) for t in ready] == [
            ("review_request", "approver,admin", "financial_approval")
        ]

    demo.decide("approver", number, "approve")
    assert invoice(uow, number).approval_status == "approved"
    assert invoice(uow, number).status == "open"

    demo.cancel("billing", number)
    inv = invoice(uow, number)
    assert (inv.status, inv.approval_status) == ("cancelled", "approved")
    with uow() as s:
        instance = s.scalars(select(ProcessInstance)).one()
        req = s.scalars(select(CancellationRequest)).one()
        assert instance.status == "completed"
        assert instance.business_key == f"{billing.clinic_id}:{number}"
        assert (req.status, req.decided_by_id, req.reason) == ("completed", approver.user_id, "duplicate")
        tasks = s.scalars(select(UserTask).order_by(UserTask.id)).all()
        assert [(t.element_id, t.state) for t in tasks] == [
            ("request_cancellation", "completed"),
            ("review_request", "completed"),
            ("cancel_invoice", "completed"),
        ]
        assert [t.completed_by_id for t in tasks] == [billing.user_id, approver.user_id, billing.user_id]


def test_reject_path_ends_the_instance_and_a_new_request_may_follow(demo, uow):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    demo.decide("approver", number, "reject", "Invoice is correct")
    inv = invoice(uow, number)
    assert (inv.status, inv.approval_status) == ("open", "rejected")
    with uow() as s:
        assert s.scalars(select(ProcessInstance.status)).all() == ["completed"]
        assert s.scalars(select(CancellationRequest.decision_remarks)).one() == "Invoice is correct"

    demo.request("billing", number, remarks="Second try")
    assert invoice(uow, number).approval_status == "requested"
    with uow() as s:
        assert sorted(s.scalars(select(ProcessInstance.status)).all()) == ["completed", "running"]


def test_direct_path_cancels_at_once(demo, uow):
    lakeside = demo.actor("lakeside")
    number = demo.invoice_numbers("LS")[0]
    with uow() as s:
        actions = offers.invoice_actions(s, lakeside, s.scalar(select(Invoice).where(Invoice.number == number)))
    assert [(a.name, a.enabled) for a in actions] == [("Cancel Invoice", True)]
    demo.cancel("lakeside", number, "Wrong patient")
    inv = invoice(uow, number)
    assert (inv.status, inv.approval_status) == ("cancelled", None)
    with uow() as s:
        assert s.scalars(select(ProcessInstance.status)).one() == "completed"
        assert s.scalars(select(CancellationRequest)).all() == []


def test_workflow_state_round_trips_with_exact_decimal_amount(demo, uow):
    number = demo.invoice_numbers("NS")[2]
    demo.request("billing", number)
    with uow() as s:
        instance = s.scalars(select(ProcessInstance)).one()
        assert "spec" not in json.loads(instance.state_json)  # the spec is stored once, with the version
        workflow = runtime_of(s).load_workflow(instance.state_json, instance.version)
        task = workflow.get_next_task(manual=True)
        amount = s.scalar(select(Invoice.amount).where(Invoice.number == number))
    assert isinstance(task.data["amount"], Decimal)
    assert task.data["amount"] == amount
    assert task.data["reason"] == "duplicate"


def test_history_records_who_did_what_with_every_remark(demo, uow):
    billing, approver = demo.actor("billing"), demo.actor("approver")
    number = demo.invoice_numbers("NS")[3]
    demo.request("billing", number, remarks="Duplicate of NS-1")
    demo.decide("approver", number, "approve", "Confirmed duplicate")
    demo.cancel("billing", number, "Done")
    with uow() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "task_completed").order_by(AuditEvent.id))
        rows = [(e.actor_id, json.loads(e.details)["task"], json.loads(e.details)["values"]) for e in events]
    assert rows == [
        (
            billing.user_id,
            "Invoice Cancellation Request",
            [["Reason", "Duplicate invoice"], ["Remarks", "Duplicate of NS-1"]],
        ),
        (approver.user_id, "Review request", [["Decision", "Approve"], ["Remarks", "Confirmed duplicate"]]),
        (billing.user_id, "Cancel Invoice", [["Remarks", "Done"]]),
    ]


def test_supervisor_cannot_decide_own_request_but_another_approver_can(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[4]
    demo.request("supervisor", number)
    before = db_snapshot()
    with pytest.raises(Forbidden, match="You made this cancellation request"):
        demo.decide("supervisor", number, "approve")
    assert db_snapshot() == before
    demo.decide("approver", number, "approve")
    assert invoice(uow, number).approval_status == "approved"


def test_admin_may_decide_as_the_approval_lane_names_clinic_administrator(demo, uow):
    number = demo.invoice_numbers("NS")[5]
    demo.request("billing", number)
    demo.decide("admin", number, "reject", "Not a duplicate")
    assert invoice(uow, number).approval_status == "rejected"


@pytest.mark.parametrize(
    ("username", "step"),
    [("approver", "request"), ("billing", "decide")],
)
def test_a_step_outside_ones_lane_is_refused_and_writes_nothing(demo, uow, db_snapshot, username, step):
    number = demo.invoice_numbers("NS")[6]
    if step == "decide":
        demo.request("supervisor", number)
    before = db_snapshot()
    with pytest.raises(Forbidden):
        if step == "request":
            demo.request(username, number)
        else:
            demo.decide(username, number, "approve")
    assert db_snapshot() == before


def test_refusals_write_nothing(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[7]
    before = db_snapshot()
    with pytest.raises(Conflict, match="not possible yet"):
        demo.cancel("billing", number)  # Cancel Invoice before approval
    with pytest.raises(Invalid) as invalid:
        demo.request("billing", number, reason="", remarks="   ")
    assert set(invalid.value.errors) == {"reason", "remarks"}
    with pytest.raises(Invalid, match="must be one of"):
        demo.request("billing", number, reason="because")
    with pytest.raises(Invalid, match="at most 1000"):
        demo.request("billing", number, remarks="x" * 1001)
    with pytest.raises(NotFound):
        demo.request("lakeside", number)  # another clinic's invoice
    assert db_snapshot() == before

    demo.request("billing", number)
    before = db_snapshot()
    with pytest.raises(Conflict, match=r"already has an open cancellation \(Requested\) that waits for Review request"):
        demo.request("billing", number)  # a second request while one is pending
    with pytest.raises(Conflict):
        demo.cancel("billing", number)  # still not approved
    with pytest.raises(Invalid, match="Remarks is required when Decision is Reject"):
        demo.decide("approver", number, "reject", "  ")
    assert db_snapshot() == before

    demo.decide("approver", number, "approve")
    before = db_snapshot()
    with pytest.raises(Conflict, match="already decided: it is Approved by Arjun Approver"):
        demo.decide("admin", number, "reject", "late")
    assert db_snapshot() == before

    demo.cancel("billing", number)
    before = db_snapshot()
    with pytest.raises(Conflict, match="already cancelled"):
        demo.request("billing", number)
    with pytest.raises(Conflict, match="already cancelled"):
        demo.cancel("billing", number)
    assert db_snapshot() == before


def test_menu_offers_what_the_roles_allow_and_says_why_not(demo, uow):
    number = demo.invoice_numbers("NS")[8]
    billing, approver = demo.actor("billing"), demo.actor("approver")
    with uow() as s:
        inv = s.scalar(select(Invoice).where(Invoice.number == number))
        billing_actions = offers.invoice_actions(s, billing, inv)
        approver_actions = offers.invoice_actions(s, approver, inv)
    assert [(a.name, a.enabled) for a in billing_actions] == [
        ("Invoice Cancellation Request", True),
        ("Cancel Invoice", False),
    ]
    assert "Invoice Cancellation Request first" in billing_actions[1].reason
    assert approver_actions == []  # approvers decide on Financial Approval, not from the invoice menu
