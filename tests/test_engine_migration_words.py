"""Migrate's dry run says in words what happens to each instance: it stays on its step (renamed, changed), moves to
the step that took its place, or cannot move because its step is not in the other version."""

from __future__ import annotations

import pytest
from diagram_edits import changed_request
from helpers import REQUEST, copy_with
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.models import ProcessInstance, ProcessVersion, UserTask
from engine.usecases import deployments, migration
from engine.workflow.runtime import runtime_of


def versions(uow, process_id: str) -> list[int]:
    with uow() as s:
        query = select(ProcessVersion.id).where(ProcessVersion.process_id == process_id)
        return list(s.scalars(query.order_by(ProcessVersion.version)))


def dry_run_after(uow, demo, data: bytes, name: str = REQUEST, process_id: str = "invoice_cancellation_request"):
    """Deploy `data` as a new version, then the dry run of moving the instances waiting on review_request to it."""
    with uow() as s:
        deployments.deploy(s, demo.actor("analyst"), name, data)
    old, new = versions(uow, process_id)[-2:]
    with uow() as s:
        return migration.dry_run(s, demo.actor("admin"), old, new, "review_request")


@pytest.fixture
def waiting_on_review(demo) -> str:
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    return number


@pytest.mark.parametrize(
    ("edit", "outcome", "words"),
    [
        (('name="Review request"', 'name="Approve cancellation request"'), "changed",
         "stays on 'Review request' (renamed 'Approve cancellation request')"),
        (('<camunda:formField id="decision_remarks"',
          '<camunda:formField id="checked" label="Checked" type="boolean" /><camunda:formField id="decision_remarks"'),
         "changed", "stays on 'Review request' (its form changed)"),
        (('id="cancel_remarks" label="Remarks"', 'id="cancel_remarks" label="Notes"'), "kept",
         "stays on 'Review request'"),
        (('clinic_setting("escalate_after")</bpmn:timeDuration>', '"P5D"</bpmn:timeDuration>'), "changed",
         "stays on 'Review request'; 'Escalate' changes"),
    ],
    ids=["renamed", "form", "unchanged", "timer"],
)  # fmt: skip
def test_an_instance_stays_on_its_step_and_the_words_say_what_changed(
    uow, demo, waiting_on_review, edit, outcome, words
):
    run = dry_run_after(uow, demo, copy_with(REQUEST, edit))
    [line] = run.lines
    assert (line.invoice_number, line.outcome, line.detail) == (waiting_on_review, outcome, words)
    assert [(w.element_id, w.name, w.instances) for w in run.waiting] == [("review_request", "Review request", 1)]


def test_an_instance_whose_waiting_timer_is_removed_cannot_move(uow, demo, waiting_on_review):
    [line] = dry_run_after(uow, demo, changed_request()).lines
    assert (line.outcome, line.movable) == ("removed", False)
    assert line.detail == "cannot move: 'Reminder' is not in version 2 — it stays on version 1"


def test_an_instance_moves_to_the_step_that_took_its_place(uow, demo, session_factory, ledger, incident_probe):
    ledger.down = False
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number, reason="other", remarks="x")
    replaced = incident_probe.read_text().replace("review_request", "approve_request")
    run = dry_run_after(
        uow, demo, replaced.replace('name="Review request"', 'name="Approve request"').encode(),
        "incident_probe.bpmn", "incident_probe",
    )  # fmt: skip
    [line] = run.lines
    assert (line.outcome, line.detail) == ("changed", "moves from 'Review request' to 'Approve request'")
    result = migration.migrate(session_factory, demo.actor("admin"), run.old.id, run.new.id, "review_request")
    assert [m.instance_id for m in result.moved] == [line.instance_id] and not result.refused
    with uow() as s:
        instance = s.get(ProcessInstance, line.instance_id)
        workflow = runtime_of(s).load_workflow(instance.state_json, instance.version)
        assert instance.process_version_id == run.new.id
        assert [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY)] == ["approve_request"]
        # What lists and queues read follows: the waiting row and the instance name the new step.
        assert (instance.waiting_element, instance.waiting_task) == ("approve_request", "Approve request")
        rows = s.scalars(select(UserTask).where(UserTask.instance_id == instance.id, UserTask.state == "ready"))
        assert [(r.element_id, r.name) for r in rows] == [("approve_request", "Approve request")]


def test_an_incident_stays_on_its_failed_step_to_be_retried(uow, demo, incident_probe):
    number = demo.invoice_numbers("NS")[0]
    assert demo.request("billing", number, reason="other", remarks="x").incident
    fixed = incident_probe.read_text().replace(
        "ledger_post(invoice_number=invoice_number)", 'ledger = "posted later by hand"'
    )
    with uow() as s:
        deployments.deploy(s, demo.actor("analyst"), "incident_probe.bpmn", fixed.encode())
    old, new = versions(uow, "incident_probe")
    with uow() as s:
        run = migration.dry_run(s, demo.actor("admin"), old, new)
    assert [(w.element_id, w.name) for w in run.waiting] == [("post_to_ledger", "Post to ledger")]
    [line] = run.lines
    assert line.detail == "stays on 'Post to ledger' (its script changed); retry it after the move"
