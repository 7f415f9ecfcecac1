"""Issue 9, item 4: what an analyst sees carries no clinic data; every call form is checked; migrations audited."""

from __future__ import annotations

import json

import pytest
from helpers import RECORD, REQUEST, copy_with
from sqlalchemy import select

from engine.db import unit_of_work
from engine.errors import Invalid
from engine.models import AuditEvent, ProcessVersion
from engine.usecases import deployments, migration
from engine.workflow.scripting import ScriptRefused, compile_script


@pytest.mark.parametrize(
    "script",
    [
        "raise [ValueError][0]('X ' + patient_name + ' ' + remarks)",
        "x = (lambda: submit_request)()(reason=reason, remarks=remarks)",
        "x = remarks.encode('utf-8')",
        "x = {'f': len}['f'](remarks)",
    ],
)
def test_every_call_form_is_checked_by_validation_and_runtime_alike(demo, session_factory, script):
    with pytest.raises(ScriptRefused):
        compile_script(script)
    data = copy_with(REQUEST, (RECORD, f"<bpmn:script>{script}</bpmn:script>"))
    with unit_of_work(session_factory) as s, pytest.raises(Invalid, match="may be called|may not be called"):
        deployments.deploy(s, demo.actor("analyst"), REQUEST, data)


def test_a_migration_shows_analysts_no_instance_data_and_every_run_is_audited(demo, session_factory):
    numbers = demo.invoice_numbers("NS")[:2]
    for number in numbers:
        demo.request("billing", number, remarks="Maria Tanaka P123456")
    demo.decide("approver", numbers[1])  # now waiting on Cancel Invoice
    data = copy_with(REQUEST, ('name="Review request"', 'name="Review the request"'))
    analyst = demo.actor("analyst")
    with unit_of_work(session_factory) as s:
        deployments.deploy(s, analyst, REQUEST, data)
        old, new = s.scalars(
            select(ProcessVersion.id)
            .where(ProcessVersion.process_id == "invoice_cancellation_request")
            .order_by(ProcessVersion.version)
        ).all()[-2:]
    result = migration.migrate(session_factory, analyst, old, new)
    shown = " ".join(f"{line.invoice_number} {line.detail}" for line in result.moved + result.refused)
    assert result.moved and "Maria" not in shown and "P123456" not in shown and "NS-" not in shown
    with unit_of_work(session_factory) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action.in_(
            ["process_migration", "instance_migrated", "instance_migration_refused"]))).all()  # fmt: skip
    run = [json.loads(e.details) for e in events if e.action == "process_migration"]
    assert run == [{"process": "invoice_cancellation_request", "from_version": 1, "to_version": 2,
                    "moved": len(result.moved), "refused": len(result.refused)}]  # fmt: skip
    assert len([e for e in events if e.action != "process_migration"]) == len(result.moved) + len(result.refused)
