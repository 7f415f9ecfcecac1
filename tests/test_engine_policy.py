"""Who must approve is the DMN table approval_policy.dmn: 1,000.00 or more needs a clinic administrator too."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.db import unit_of_work
from engine.errors import Forbidden
from engine.models import CancellationRequest, Invoice, ProcessInstance
from engine.reads import queries
from engine.usecases import approval, steps


@pytest.fixture
def uow(session_factory):
    return lambda: unit_of_work(session_factory)


def request(uow, demo, number):
    with uow() as s:
        steps.complete_task(
            s, demo.actor("billing"), number, "request_cancellation", {"reason": "other", "remarks": "x"}
        )
        return s.scalar(select(CancellationRequest.id).join(Invoice).where(Invoice.number == number))


def decide(uow, actor, request_id, decision="approve", remarks=""):
    with uow() as s:
        return approval.decide(s, actor, request_id, {"decision": decision, "decision_remarks": remarks})


def state(uow, number):
    with uow() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.invoice_id == invoice.id)).all()[-1]
        return invoice.approval_status, instance.waiting_element


def test_just_below_the_threshold_one_approval_suffices(demo, uow):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "999.99")
    decide(uow, demo.actor("approver"), request(uow, demo, number))
    assert state(uow, number) == ("approved", "cancel_invoice")


def test_from_the_threshold_a_clinic_administrator_approves_second(demo, uow):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "1000.00")
    request_id = request(uow, demo, number)
    decide(uow, demo.actor("approver"), request_id)
    assert state(uow, number) == ("requested", "second_approval")
    with uow() as s:
        waiting = queries.awaiting_approval(s, [s.scalar(select(Invoice.id).where(Invoice.number == number))])
        assert list(waiting.values()) == ["Clinic administrator"]
        assert queries.approval_queue(s, demo.actor("approver")).total == 0  # nothing left for approvers
        assert [r.request.id for r in queries.approval_queue(s, demo.actor("admin")).items] == [request_id]
    with pytest.raises(Forbidden, match="Second approval is done by Clinic administrator"):
        decide(uow, demo.actor("supervisor"), request_id)
    decide(uow, demo.actor("admin"), request_id)
    assert state(uow, number) == ("approved", "cancel_invoice")


def test_a_rejection_at_the_second_step_rejects_the_request(demo, uow):
    number = demo.invoice_numbers("NS")[1]
    demo.set_amount(number, "4500.00")
    request_id = request(uow, demo, number)
    decide(uow, demo.actor("approver"), request_id)
    decide(uow, demo.actor("admin"), request_id, "reject", "Too large to cancel without the patient")
    status, waiting = state(uow, number)
    assert (status, waiting) == ("rejected", None)


def test_nobody_decides_twice_on_one_request(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[2]
    demo.set_amount(number, "2000.00")
    request_id = request(uow, demo, number)
    decide(uow, demo.actor("admin"), request_id)  # the admin gives the first approval
    assert state(uow, number) == ("requested", "second_approval")
    before = db_snapshot()
    with pytest.raises(Forbidden, match="already decided on this request"):
        decide(uow, demo.actor("admin"), request_id)
    assert db_snapshot() == before
    with uow() as s:
        assert queries.approval_queue(s, demo.actor("admin")).total == 0  # not listed as decidable for them
