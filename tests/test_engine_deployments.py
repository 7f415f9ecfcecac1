"""Analysts deploy, compare and migrate: validated like `make validate`, versioned by content, audited."""

from __future__ import annotations

import pytest
from helpers import REQUEST, copy_with
from sqlalchemy import func, select

from engine.errors import Forbidden, Invalid
from engine.models import AuditEvent, Deployment, ProcessInstance, ProcessVersion, UserTask
from engine.usecases import deployments, migration


def changed(old: str, new: str) -> bytes:
    return copy_with(REQUEST, (old, new))


def deploy(uow, actor, data: bytes, name: str = REQUEST):
    with uow() as s:
        return deployments.deploy(s, actor, name, data)


def latest(uow, process_id="invoice_cancellation_request") -> ProcessVersion:
    with uow() as s:
        return s.scalar(
            select(ProcessVersion)
            .where(ProcessVersion.process_id == process_id)
            .order_by(ProcessVersion.version.desc())
        )


def test_a_changed_file_becomes_a_new_version_and_the_same_content_changes_nothing(demo, uow):
    analyst = demo.actor("analyst")
    same = deploy(uow, analyst, copy_with(REQUEST))
    assert [d.outcome for d in same.deployments] == ["unchanged"] and latest(uow).version == 1
    result = deploy(uow, analyst, changed('name="Review request"', 'name="Review the request"'))
    assert "is now version 2" in result.message and latest(uow).version == 2
    assert deploy(uow, analyst, changed('name="Review request"', 'name="Review the request"')).deployments[
        0
    ].outcome == ("unchanged")
    with uow() as s:
        rows = s.execute(
            select(Deployment.filename, Deployment.deployed_by, Deployment.outcome).where(
                Deployment.deployed_by != "system"
            )
        ).all()
    assert rows == [
        (REQUEST, "analyst", "unchanged"),
        (REQUEST, "analyst", "new_version"),
        (REQUEST, "analyst", "unchanged"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (REQUEST, b"<bpmn:definitions", "not well-formed XML"),
        (REQUEST, b'<?xml version="1.0"?><catalog><book/></catalog>', "is not a BPMN 2.0 file"),
        ("policy.dmn", b'<?xml version="1.0"?><catalog/>', "is not a DMN file"),
        (REQUEST, b"<x>" + b" " * 1_000_001 + b"</x>", "over 1 MB"),
        ("notes.txt", b"hello", "Choose a .bpmn or .dmn file"),
        (REQUEST, b"\xff\xfe<x/>", "not UTF-8"),
    ],
)
def test_files_that_are_not_diagrams_are_refused(demo, uow, db_snapshot, name, data, expected):
    before = db_snapshot()
    with pytest.raises(Invalid, match=expected):
        deploy(uow, demo.actor("analyst"), data, name)
    assert db_snapshot() == before


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'id="remarks" label="Remarks" type="string"',
            'id="remarks" label="Remarks" type="colour"',
            "has type 'colour'",
        ),
        ('decision == "approve"', '__import__("os").getcwd() == "approve"', "not allowed"),
        ('decision == "approve"', "decision.__class__ == 1", "not allowed"),
        (
            'name="Approver, Clinic administrator"',
            'name="Approver, Finance director"',
            "'Finance director' is not a known",
        ),
    ],
)
def test_broken_diagrams_are_refused_with_file_line_and_element(demo, uow, db_snapshot, old, new, expected):
    before = db_snapshot()
    with pytest.raises(Invalid) as caught:
        deploy(uow, demo.actor("analyst"), changed(old, new))
    message = caught.value.errors["file"]
    assert message.startswith(f"{REQUEST}:") and expected in message
    line = message.split(":")[1]
    assert line.isdigit() and int(line) > 0
    assert db_snapshot() == before


def test_only_analysts_deploy(demo, uow, db_snapshot):
    before = db_snapshot()
    for username in ("admin", "billing", "approver"):
        with pytest.raises(Forbidden):
            deploy(uow, demo.actor(username), changed('name="Review request"', 'name="Other"'))
    assert db_snapshot() == before


def test_compare_names_tasks_and_form_fields(demo, uow):
    analyst = demo.actor("analyst")
    extra = '<camunda:formField id="reference" label="Duplicate of" type="string" />\n'
    data = changed('<camunda:formField id="remarks"', extra + '          <camunda:formField id="remarks"')
    data = data.replace(b'name="Review request"', b'name="Review the request"')
    deploy(uow, analyst, data)
    with uow() as s:
        ids = s.scalars(
            select(ProcessVersion.id).where(ProcessVersion.process_id == "invoice_cancellation_request")
        ).all()
        comparison = deployments.compare(s, analyst, ids[0], ids[1])
    by_id = {c.element_id: c for c in comparison.changed}
    assert by_id["request_cancellation"].fields_added == ["Duplicate of (reference)"]
    assert by_id["review_request"].what == ["name 'Review request' → 'Review the request'"]
    assert comparison.files_changed == [REQUEST]


def test_dry_run_and_migration_of_waiting_instances(demo, uow, session_factory):
    analyst, admin = demo.actor("analyst"), demo.actor("admin")
    numbers = demo.invoice_numbers("NS")[:2]
    for number in numbers:
        demo.request("billing", number, reason="other", remarks="x")
    v1 = latest(uow)
    extra = '<camunda:formField id="checked" label="Checked the ledger" type="boolean" />\n'
    marker = '<camunda:formField id="decision_remarks"'
    deploy(uow, analyst, changed(marker, extra + "          " + marker))
    v2 = latest(uow)
    with uow() as s:
        with pytest.raises(Invalid, match="other than"):
            migration.plan(s, admin, v2.id, v2.id)
        assert migration.plan(s, admin, v2.id, v1.id) == []  # back is allowed (a rollback); none is on v2 yet
        lines = migration.plan(s, admin, v1.id, v2.id, "review_request")
    assert [(line.invoice_number, line.outcome) for line in lines] == [(numbers[0], "changed"), (numbers[1], "changed")]
    result = migration.migrate(session_factory, admin, v1.id, v2.id, "review_request")
    assert len(result.moved) == 2 and not result.refused
    with uow() as s:
        assert set(s.scalars(select(ProcessInstance.process_version_id))) == {v2.id}
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "instance_migrated")) == 2
        )
        ready = s.scalars(select(UserTask).where(UserTask.state == "ready")).all()
        assert {r.element_id for r in ready} == {"review_request"} and len(ready) == 2
    # the migrated instance shows the new field and completes
    with uow() as s:
        from engine.models import CancellationRequest
        from engine.usecases.approval import review_form

        request = s.scalars(select(CancellationRequest)).first()
        form, _ = review_form(s, demo.actor("approver"), request)
    assert [f.id for f in form.fields] == ["decision", "checked", "decision_remarks"]


def test_an_instance_whose_task_is_removed_or_that_is_not_waiting_is_refused(
    demo, uow, session_factory, ledger, incident_probe
):
    ledger.down = False
    waiting, done = demo.invoice_numbers("NS")[:2]
    for number in (waiting, done):
        demo.request("billing", number, reason="other", remarks="x")
    with uow() as s:  # the second one is decided: it waits for nothing any more
        from engine.models import CancellationRequest
        from engine.usecases.approval import decide

        decide(s, demo.actor("approver"), s.scalars(select(CancellationRequest.id)).all()[1], {"decision": "approve"})
    v1 = latest(uow, "incident_probe")
    text = incident_probe.read_text()
    start, end = (
        text.index('<bpmn:userTask id="review_request"'),
        text.index("</bpmn:userTask>", text.index('id="review_request"')),
    )
    text = text[:start] + text[end + len("</bpmn:userTask>") :]
    text = text.replace("<bpmn:flowNodeRef>review_request</bpmn:flowNodeRef>", "")
    text = text.replace('<bpmn:sequenceFlow id="f4" sourceRef="post_to_ledger" targetRef="review_request" />', "")
    text = text.replace('<bpmn:sequenceFlow id="f5" sourceRef="review_request" targetRef="end" />',
                        '<bpmn:sequenceFlow id="f5" sourceRef="post_to_ledger" targetRef="end" />')  # fmt: skip
    text = text.replace("<bpmn:outgoing>f4</bpmn:outgoing>", "<bpmn:outgoing>f5</bpmn:outgoing>")
    deploy(uow, demo.actor("analyst"), text.encode(), "incident_probe.bpmn")
    v2 = latest(uow, "incident_probe")
    with uow() as s:
        instance_ids = s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)).all()
    result = migration.migrate(session_factory, demo.actor("admin"), v1.id, v2.id, ids=instance_ids)
    assert not result.moved
    assert [(r.invoice_number, r.outcome) for r in result.refused] == [(waiting, "removed"), (done, "not waiting")]
    assert result.refused[0].detail == "cannot move: 'Review request' is not in version 2 — it stays on version 1"
    with uow() as s:
        assert set(s.scalars(select(ProcessInstance.process_version_id))) == {v1.id}
        refusals = s.scalars(select(AuditEvent).where(AuditEvent.action == "instance_migration_refused")).all()
    assert sorted(e.instance_id for e in refusals) == sorted(instance_ids)  # refused migrations are audited too


def test_an_incident_is_migrated_to_a_fixed_version_then_retried(demo, uow, session_factory, ledger, incident_probe):
    from engine.usecases import instance_admin

    number = demo.invoice_numbers("NS")[0]
    outcome = demo.request("billing", number, reason="other", remarks="x")
    assert outcome.incident
    v1 = latest(uow, "incident_probe")
    fixed = incident_probe.read_text().replace(
        "ledger_post(invoice_number=invoice_number)", 'ledger = "posted later by hand"'
    )
    deploy(uow, demo.actor("analyst"), fixed.encode(), "incident_probe.bpmn")
    v2 = latest(uow, "incident_probe")
    with uow() as s:
        lines = migration.plan(s, demo.actor("admin"), v1.id, v2.id, "post_to_ledger")
    assert [(line.status, line.outcome) for line in lines] == [("incident", "changed")]
    result = migration.migrate(session_factory, demo.actor("admin"), v1.id, v2.id, "post_to_ledger")
    assert len(result.moved) == 1
    with uow() as s:
        instance = s.scalar(select(ProcessInstance))
        assert (instance.status, instance.process_version_id) == ("incident", v2.id)
        assert instance_admin.retry(s, demo.actor("admin"), instance.id) is True
    with uow() as s:
        instance = s.scalar(select(ProcessInstance))
        assert (instance.status, instance.waiting_element) == ("running", "review_request")
