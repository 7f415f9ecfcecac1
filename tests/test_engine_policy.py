"""Who must approve is the DMN table approval_policy.dmn: 1,000.00 or more needs a clinic administrator too."""

from __future__ import annotations

import pytest
from helpers import latest_request_id
from sqlalchemy import select

from engine.errors import Forbidden
from engine.models import Invoice, ProcessInstance
from engine.reads import queries


def state(uow, number):
    with uow() as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        instance = s.scalars(select(ProcessInstance).where(ProcessInstance.invoice_id == invoice.id)).all()[-1]
        return invoice.approval_status, instance.waiting_element


def test_just_below_the_threshold_one_approval_suffices(demo, uow):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "999.99")
    demo.request("billing", number, reason="other", remarks="x")
    demo.decide("approver", number)
    assert state(uow, number) == ("approved", "cancel_invoice")


def test_from_the_threshold_a_clinic_administrator_approves_second(demo, uow):
    number = demo.invoice_numbers("NS")[0]
    demo.set_amount(number, "1000.00")
    demo.request("billing", number, reason="other", remarks="x")
    request_id = latest_request_id(demo.factory, number)
    demo.decide("approver", number)
    assert state(uow, number) == ("requested", "second_approval")
    with uow() as s:
        waiting = queries.awaiting_approval(s, [s.scalar(select(Invoice.id).where(Invoice.number == number))])
        assert list(waiting.values()) == ["Clinic administrator (approval 2 of 2)"]
        assert queries.approval_queue(s, demo.actor("approver")).total == 0  # nothing left for approvers
        assert [r.request.id for r in queries.approval_queue(s, demo.actor("admin")).items] == [request_id]
    with pytest.raises(Forbidden, match="Second approval is done by Clinic administrator"):
        demo.decide("supervisor", number)
    demo.decide("admin", number)
    assert state(uow, number) == ("approved", "cancel_invoice")


def test_a_rejection_at_the_second_step_rejects_the_request(demo, uow):
    number = demo.invoice_numbers("NS")[1]
    demo.set_amount(number, "4500.00")
    demo.request("billing", number, reason="other", remarks="x")
    demo.decide("approver", number)
    demo.decide("admin", number, "reject", "Too large to cancel without the patient")
    status, waiting = state(uow, number)
    assert (status, waiting) == ("rejected", None)


def test_nobody_decides_twice_on_one_request(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[2]
    demo.set_amount(number, "2000.00")
    demo.request("billing", number, reason="other", remarks="x")
    demo.decide("admin", number)  # the admin gives the first approval
    assert state(uow, number) == ("requested", "second_approval")
    before = db_snapshot()
    with pytest.raises(Forbidden, match="already decided on this request"):
        demo.decide("admin", number)
    assert db_snapshot() == before
    with uow() as s:
        assert queries.approval_queue(s, demo.actor("admin")).total == 0  # not listed as decidable for them
