"""Two workers at once: duplicate submissions start one request; two approvers give one decision."""

from __future__ import annotations

from helpers import latest_request_id, run_together
from sqlalchemy import select

from engine.db import unit_of_work
from engine.errors import Conflict
from engine.models import CancellationRequest, ProcessInstance
from engine.usecases import approval, steps


def test_a_double_clicked_save_creates_one_request(demo, session_factory):
    billing = demo.actor("billing")
    number = demo.invoice_numbers("NS")[0]

    def submit():
        with unit_of_work(session_factory) as s:
            return steps.complete_task(
                s, billing, number, "request_cancellation", {"reason": "duplicate", "remarks": "twice"}
            )

    results = run_together(submit, submit, submit)
    assert sum(isinstance(r, steps.Outcome) for r in results) == 1
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, steps.Outcome))
    with unit_of_work(session_factory) as s:
        assert len(s.scalars(select(ProcessInstance)).all()) == 1
        assert len(s.scalars(select(CancellationRequest)).all()) == 1


def test_two_approvers_at_once_give_one_decision(demo, session_factory):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number, remarks="x")
    request_id = latest_request_id(session_factory, number)
    approver, admin = demo.actor("approver"), demo.actor("admin")

    def decide(actor, decision):
        def action():
            with unit_of_work(session_factory) as s:
                return approval.decide(s, actor, request_id, {"decision": decision, "decision_remarks": "mine"})

        return action

    results = run_together(decide(approver, "approve"), decide(admin, "reject"))
    outcomes = [r for r in results if isinstance(r, steps.Outcome)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(outcomes) == 1 and len(conflicts) == 1, results
    with unit_of_work(session_factory) as s:
        request = s.get(CancellationRequest, request_id)
        winner = request.decided_by.full_name
    assert request.status in ("approved", "rejected")
    assert f"by {winner}" in conflicts[0].message
