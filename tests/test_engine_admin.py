"""Admins steer instances: incidents kept with the user's SAVE, retry, terminate, lists and detail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engine.errors import Conflict, Forbidden, Invalid, NotFound
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, UserTask
from engine.reads import monitoring
from engine.reads.instance_detail import instance_detail
from engine.usecases import instance_admin


def instance_of(uow, number) -> ProcessInstance:
    with uow() as s:
        return s.scalars(
            select(ProcessInstance).join(Invoice).where(Invoice.number == number).order_by(ProcessInstance.id)
        ).all()[-1]


def test_a_failing_step_keeps_the_users_save_and_records_an_incident(demo, incident_probe, uow):
    number = demo.invoice_numbers("NS")[0]
    outcome = demo.request("billing", number)
    assert outcome.incident and "input was saved" in outcome.message
    instance = instance_of(uow, number)
    assert (instance.status, instance.incident_element) == ("incident", "post_to_ledger")
    assert "ledger unreachable" in instance.incident_message and instance.incident_at is not None
    assert instance.waiting_task is None
    with uow() as s:
        assert s.scalars(select(UserTask.state)).all() == ["completed"]
        assert s.scalars(select(CancellationRequest.status)).one() == "requested"
        page = monitoring.list_instances(s, demo.actor("admin"), monitoring.InstanceFilters(status="incident"))
    assert [(r.invoice_number, r.status_label, r.incident_element) for r in page.items] == [
        (number, "Incident", "post_to_ledger")
    ]


def test_retry_fails_again_then_goes_through_once_the_cause_is_fixed(demo, incident_probe, uow, ledger):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    admin_actor = demo.actor("admin")
    with uow() as s:
        assert instance_admin.retry(s, admin_actor, instance_of(uow, number).id) is False
    instance = instance_of(uow, number)
    assert instance.status == "incident" and "ledger unreachable" in instance.incident_message

    ledger.down = False
    with uow() as s:
        assert instance_admin.retry(s, admin_actor, instance.id) is True
    instance = instance_of(uow, number)
    assert (instance.status, instance.incident_element, instance.waiting_element) == (
        "running",
        None,
        "review_request",
    )
    assert ledger.posted == [number]
    with uow() as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert s.scalars(select(UserTask.element_id).where(UserTask.state == "ready")).all() == ["review_request"]
    assert actions[-2:] == ["instance_retry_failed", "instance_retried"]


def test_retry_without_incident_is_refused_and_writes_nothing(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    before = db_snapshot()
    with pytest.raises(Conflict, match="no incident to retry"):
        with uow() as s:
            instance_admin.retry(s, demo.actor("admin"), instance_of(uow, number).id)
    assert db_snapshot() == before


def test_terminate_ends_the_instance_and_a_new_request_may_follow(demo, uow, db_snapshot):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    instance_id = instance_of(uow, number).id
    before = db_snapshot()
    for reason in ("", "   ", "x" * 1001):
        with pytest.raises(Invalid) as caught, uow() as s:
            instance_admin.terminate(s, demo.actor("admin"), instance_id, reason)
        assert "Reason" in caught.value.errors["reason"]
    assert db_snapshot() == before

    with uow() as s:
        instance_admin.terminate(s, demo.actor("admin"), instance_id, "Patient disputes; handled by phone")
    with uow() as s:
        instance = s.get(ProcessInstance, instance_id)
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        assert (instance.status, instance.waiting_task) == ("terminated", None)
        assert (invoice.status, invoice.approval_status) == ("open", "terminated")
        assert s.scalars(select(CancellationRequest.status)).one() == "terminated"
        assert s.scalars(select(UserTask.state).order_by(UserTask.id)).all() == ["completed", "cancelled"]
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "instance_terminated")).one()
        assert "handled by phone" in event.details and event.actor_id == demo.actor("admin").user_id
        assert number not in [r.request.invoice.number for r in _queue(s, demo)]

    before = db_snapshot()
    with pytest.raises(Conflict, match="already Terminated"):
        with uow() as s:
            instance_admin.terminate(s, demo.actor("admin"), instance_id, "again")
    assert db_snapshot() == before
    demo.request("billing", number, remarks="New request after termination")
    assert instance_of(uow, number).status == "running"


def _queue(session, demo):
    from engine.reads.queries import approval_queue

    return approval_queue(session, demo.actor("approver")).items


def test_terminating_a_completed_instance_is_refused(demo, uow, db_snapshot):
    number = demo.invoice_numbers("LS")[0]
    demo.cancel("lakeside", number, "x")
    before = db_snapshot()
    with pytest.raises(Forbidden):  # lakeside has no admin
        with uow() as s:
            instance_admin.terminate(s, demo.actor("lakeside"), instance_of(uow, number).id, "why")
    with pytest.raises(NotFound):  # Northside's admin cannot see Lakeside's instance
        with uow() as s:
            instance_admin.terminate(s, demo.actor("admin"), instance_of(uow, number).id, "why")
    assert db_snapshot() == before


def test_instance_list_filters_sorts_and_counts(demo, uow):
    approver, admin_actor = demo.actor("approver"), demo.actor("admin")
    numbers = demo.invoice_numbers("NS")[:4]
    for number in numbers:
        demo.request("billing", number)
    with uow() as s:  # the second request has waited longest
        s.execute(
            update(ProcessInstance)
            .where(
                ProcessInstance.invoice_id == select(Invoice.id).where(Invoice.number == numbers[1]).scalar_subquery()
            )
            .values(waiting_since=datetime.now(UTC) - timedelta(days=3, hours=2))
        )
        rid = s.scalars(select(CancellationRequest.id).order_by(CancellationRequest.id)).all()[0]
        from engine.usecases.approval import decide

        decide(s, approver, rid, {"decision": "reject", "decision_remarks": "no"})
    with uow() as s:
        every = monitoring.list_instances(s, admin_actor, monitoring.InstanceFilters())
        waiting = monitoring.list_instances(
            s, admin_actor, monitoring.InstanceFilters(waiting_element="review_request")
        )
        by_number = monitoring.list_instances(s, admin_actor, monitoring.InstanceFilters(number=numbers[2]))
        completed = monitoring.list_instances(s, admin_actor, monitoring.InstanceFilters(status="completed"))
        other_process = monitoring.list_instances(
            s, admin_actor, monitoring.InstanceFilters(process_id="invoice_cancellation_direct")
        )
        v1 = monitoring.list_instances(s, admin_actor, monitoring.InstanceFilters(version=1))
        future = monitoring.list_instances(
            s, admin_actor, monitoring.InstanceFilters(started_from=datetime.now(UTC).date() + timedelta(days=2))
        )
        summary = monitoring.overview(s, admin_actor)
        with pytest.raises(Forbidden):  # monitoring is for clinic administrators
            monitoring.list_instances(s, demo.actor("lakeside"), monitoring.InstanceFilters())
    assert every.total == 4 and every.items[0].invoice_number == numbers[1]  # longest waiting first
    assert every.items[0].waiting_for == "Review request — Approver, Clinic administrator"
    assert every.items[-1].status == "completed"
    assert [r.invoice_number for r in waiting.items] == [numbers[1], numbers[2], numbers[3]]
    assert [r.invoice_number for r in by_number.items] == [numbers[2]]
    assert [r.invoice_number for r in completed.items] == [numbers[0]]
    assert other_process.total == 0 and v1.total == 4 and future.total == 0
    assert summary.counts == {"running": 3, "completed": 1, "terminated": 0, "incident": 0}
    assert summary.oldest_waiting_age == "3 days"
    with pytest.raises(Invalid):
        monitoring.InstanceFilters(status="sleeping").check()


def test_csv_export_follows_the_filters_and_is_spreadsheet_safe(demo, uow, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    with uow() as s:
        s.execute(update(Invoice).where(Invoice.number == number).values(patient_name="x"))
        from engine.models import User

        s.execute(update(User).where(User.username == "billing").values(full_name="=HYPERLINK(1)"))
    with uow() as s:
        text = "".join(monitoring.export_csv(s, demo.actor("admin"), monitoring.InstanceFilters(status="running")))
        empty = "".join(monitoring.export_csv(s, demo.actor("admin"), monitoring.InstanceFilters(status="completed")))
    lines = text.strip().splitlines()
    assert lines[0].startswith("Invoice No.,Process,Version,Status,Waiting for")
    assert lines[1].startswith(f'{number},Invoice cancellation with approval,1,Running,"Review request — Approver')
    assert ",'=HYPERLINK(1)," in lines[1]
    assert len(empty.strip().splitlines()) == 1


def test_instance_detail_marks_where_the_instance_stands(demo, uow):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    with uow() as s:
        detail = instance_detail(s, demo.actor("admin"), instance_of(uow, number).id)
    assert detail.ready == ["review_request"]
    assert {"start", "request_cancellation", "check_blockers_request", "record_request", "decide_approvals"} <= set(
        detail.completed
    )
    assert detail.flows_taken == [
        "flow_check_blockers_request_record_request",
        "flow_decide_approvals_review_request",
        "flow_record_request_decide_approvals",
        "flow_request_cancellation_check_blockers_request",
        "flow_start_request_cancellation",
    ]
    done = next(t for t in detail.tasks if t.element_id == "request_cancellation")
    assert done.completed_by == "Bella Billing (billing)" and done.values["Remarks"] == "Billed twice"
    assert detail.variables["invoice_number"] == number
    assert '<bpmn:userTask id="review_request"' in detail.xml
