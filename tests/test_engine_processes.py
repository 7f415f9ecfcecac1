"""processes/ is validated at start: a broken file stops start-up naming the file, line and element."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.errors import ProcessesInvalid
from engine.instances.operations import OPERATIONS
from engine.models import ProcessVersion
from engine.usecases.deployments import deploy_processes
from engine.workflow.parsing import PROCESSES_DIR, load_directory
from webapp import create_app

REQUEST = "invoice_cancellation_request.bpmn"


@pytest.fixture
def processes_copy(tmp_path) -> Path:
    target = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def problems(directory: Path) -> list[str]:
    with pytest.raises(ProcessesInvalid) as caught:
        load_directory(directory, set(OPERATIONS))
    return [p.message for p in caught.value.problems]


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_shipped_processes_are_valid():
    assert set(load_directory(PROCESSES_DIR, set(OPERATIONS))) == {
        "invoice_cancellation_request",
        "invoice_cancellation_direct",
        "invoice_undo_cancel",
    }


def test_malformed_xml_names_file_and_line(processes_copy):
    path = processes_copy / REQUEST
    edit(path, '<bpmn:userTask id="review_request"', '<bpmn:userTask id="review_request" broken=')
    (message,) = problems(processes_copy)
    assert message.startswith(f"{path}:{line_of(path, 'broken=')}: -: the file is not well-formed XML")


def test_xsd_violation_names_line_and_element(processes_copy):
    path = processes_copy / REQUEST
    edit(
        path,
        '<bpmn:exclusiveGateway id="decision_gateway"',
        '<bpmn:exclusiveGateway id="decision_gateway" colour="red"',
    )
    (message,) = problems(processes_copy)
    assert message.startswith(f"{path}:{line_of(path, 'colour=')}: decision_gateway: ")
    assert "colour" in message


def test_unknown_lane_role_is_named(processes_copy):
    path = processes_copy / REQUEST
    edit(path, 'name="Approver, Clinic administrator"', 'name="Approver, Finance director"')
    (message,) = problems(processes_copy)
    line = line_of(path, 'userTask id="review_request"')
    assert f"{path}:{line}: review_request: lane part 'Finance director'" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("submit_request(reason=reason, remarks=remarks)", "import os", "imports are not allowed"),
        (
            "submit_request(reason=reason, remarks=remarks)",
            "delete_everything()",
            "not an operation of the engine",
        ),
        ('decision == "approve"', 'decision == = "approve"', "does not compile"),
        ('decision == "approve"', "().__class__", "not allowed"),
    ],
)
def test_scripts_and_conditions_are_checked(processes_copy, old, new, expected):
    edit(processes_copy / REQUEST, old, new)
    (message,) = problems(processes_copy)
    assert expected in message


def test_broken_file_stops_start_up(processes_copy, database_url):
    edit(processes_copy / REQUEST, 'type="enum"', 'type="colour"')
    with pytest.raises(ProcessesInvalid, match="has type 'colour'"):
        create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x", "PROCESSES_DIR": str(processes_copy)})


def test_versions_are_stored_once_per_content(session_factory, processes_copy):
    with unit_of_work(session_factory) as session:
        deploy_processes(session, processes_copy)  # same content as at start-up: nothing new
    edit(processes_copy / REQUEST, "Review request", "Review the request")
    with unit_of_work(session_factory) as session:
        deploy_processes(session, processes_copy)
        rows = session.execute(
            select(ProcessVersion.process_id, func.max(ProcessVersion.version)).group_by(ProcessVersion.process_id)
        ).all()
    assert dict(rows) == {"invoice_cancellation_request": 2, "invoice_cancellation_direct": 1, "invoice_undo_cancel": 1}


POLICY = "approval_policy.dmn"


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (POLICY, "&gt;= 1000", "&gt;= 900", "rules 'rule_below_threshold' and 'rule_from_threshold' of a UNIQUE table"),
        (POLICY, "<text>amount</text>", "<text>amount_due</text>", "reads amount_due, which no earlier step sets"),
        (
            REQUEST,
            'camunda:decisionRef="approval_policy"',
            'camunda:decisionRef="policy_v9"',
            "decide_approvals: the business rule task uses the decision 'policy_v9', which no DMN file defines",
        ),
        (
            REQUEST,
            ' default="flow_one_approval"',
            "",
            "flow_one_approval: the flow leaving gateway 'approvals_gateway' has no condition and is not its default",
        ),
        (
            REQUEST,
            '<bpmn:sequenceFlow id="flow_start_request_cancellation" sourceRef="start" '
            'targetRef="request_cancellation" />',
            "",
            "request_cancellation: no path from the start event reaches this element",
        ),
    ],
)
def test_policy_and_flow_checks(processes_copy, name, old, new, expected):
    edit(processes_copy / name, old, new)
    messages = problems(processes_copy)
    assert any(expected in m for m in messages), messages


def test_make_validate_prints_path_line_element_and_fails(processes_copy):
    import subprocess
    import sys

    edit(processes_copy / REQUEST, 'name="Approver, Clinic administrator"', 'name="Approver, Finance"')
    ok = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(PROCESSES_DIR)], capture_output=True, text=True
    )
    assert ok.returncode == 0
    bad = subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(processes_copy)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert f"{processes_copy / REQUEST}:" in bad.stderr and ": review_request: lane part 'Finance'" in bad.stderr


def test_two_dmn_files_with_one_decision_id_are_refused(processes_copy):
    shutil.copy(processes_copy / POLICY, processes_copy / "policy_copy.dmn")
    messages = problems(processes_copy)
    assert any("approval_policy: the decision id is already used in" in m for m in messages), messages
