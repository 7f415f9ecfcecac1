"""Polish 9 and 10: the validator refuses processes not marked executable and says what SpiffWorkflow's parser
and the XSD found as `file:line: element: message`, naming the element, its line and the fix.

tests/third_party_diagrams/ holds small broken diagrams as analysts make them in Camunda Modeler or bpmn.io (not
in tests/processes/, which a fixture deploys); each is checked alone, named as an upload names it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REQUEST, copy_with, upload

from engine.errors import Invalid, ProcessesInvalid
from engine.instances.operations import OPERATIONS
from engine.usecases import deployments
from engine.workflow.parsing import PROCESSES_DIR, Source, load_directory, parse_sources

DIAGRAMS = Path(__file__).parent / "third_party_diagrams"
NOT_EXECUTABLE = "the process is not marked executable: tick Executable in the modeller"

EXPECTED = {
    "business_rule_task_without_decision.bpmn": [
        "27: Activity_refund_policy: the business rule task has no decision reference: in the modeller set "
        "Implementation to DMN and Decision reference to the id of the decision it uses"
    ],
    "call_activity_to_missing_process.bpmn": [
        "27: Activity_check_insurance: the call activity calls the process 'insurance_check' (Called element), "
        "which is not in this file: draw that process in this file, or correct the Called element"
    ],
    "collapsed_pool_only.bpmn": [
        "2: Definitions_1q0z4hm: the file has no process to run: draw one in the modeller (a start event, the "
        "tasks, an end event) and tick Executable"
    ],
    "complex_gateway.bpmn": [
        "27: Gateway_0y4cq1d: the complex gateway is a kind of element this engine does not run: use an exclusive, "
        "inclusive, parallel or event-based gateway instead"
    ],
    "duplicate_id.bpmn": [
        "27: Activity_request_refund: the id 'Activity_request_refund' is already the id of the user task 'Request "
        "refund' on line 18: ids must be unique in a file, so give the script task 'Record refund' another id (in "
        "the modeller's properties panel: ID)"
    ],
    "flow_to_deleted_element.bpmn": [
        "28: Flow_1m0fz3r: the sequence flow goes to 'Activity_check_claim', which is not in the diagram: reconnect "
        "its end to an element of this process in the modeller, or delete the flow"
    ],
    "flow_without_target.bpmn": [
        "28: Flow_1m0fz3r: the sequence flow has no end (targetRef): connect it to an element in the modeller, or "
        "delete it"
    ],
    # SpiffWorkflow: "There is no support implemented for this task type." (it finds elements by id, and the form
    # field, later in the file, replaces its task).
    "form_field_same_id_as_task.bpmn": [
        "20: Activity_request_refund: the form field id 'Activity_request_refund' is also the id of the user task "
        "'Request refund' on line 17, and the engine finds elements by id: give the form field another id (it names "
        "the variable the form sets: change the scripts and conditions that read it too)"
    ],
    "gateway_with_empty_conditions.bpmn": [
        "41: Flow_small: the flow leaving gateway 'Gateway_amount' has an empty condition and is not its default: "
        "add a condition or make it the default flow",
        "44: Flow_large: the flow leaving gateway 'Gateway_amount' has an empty condition and is not its default: "
        "add a condition or make it the default flow",
    ],
    "literal_expression.dmn": [
        "3: refund_limit: the decision is a literal expression, not a decision table, and the engine runs decision "
        "tables only: make it one in the modeller"
    ],
    "misspelt_element.bpmn": [
        "17: Activity_request_refund: <usertask> is not an element of BPMN 2.0: write <userTask>"
    ],
    "multi_instance_without_collection.bpmn": [
        "17: Activity_request_refund: the task is multi-instance but has no Loop cardinality or Collection: set one "
        "in the modeller's Multi-instance section, or remove the multi-instance marker"
    ],
    "new_diagram_not_executable.bpmn": [f"3: Process_1: {NOT_EXECUTABLE}"],
    "no_start_event.bpmn": [
        "6: refund_request: the process has no start event: add one where the process begins, then connect it"
    ],
    "output_text_without_quotes.dmn": [
        "23: LiteralExpression_1v2n6xs: the output entry 'clinic administrator' is not a valid expression (invalid "
        'syntax): write a value such as 2, "text" (with the quotes) or True'
    ],
    "script_task_without_script.bpmn": [
        "27: Activity_record_refund: the script task has no script: write it in the modeller (Script: inline, python)"
    ],
    # The Clinic pool runs; the Insurer pool has steps and is refused; the empty Patient pool is a black box.
    "second_pool_not_executable.bpmn": [f"34: Process_insurer: {NOT_EXECUTABLE}"],
    "service_task.bpmn": [
        "27: Activity_notify_insurer: a service task does nothing in this engine (it runs no Java class, expression "
        "or external worker): use a script task that calls one of the engine's operations"
    ],
    "table_saved_as_text.dmn": [
        "1: -: the file is not well-formed XML: it is not XML at all (it begins 'Refund policy (hit policy: "
        "Unique)'): save the diagram from the modeller (Camunda Modeler or bpmn.io) and use the file it writes"
    ],
    "task_with_two_outgoing_flows.bpmn": [
        "18: Activity_request_refund: the user task 'Request refund' has 2 outgoing flows (Flow_1m0fz3r, "
        "Flow_0p7sx1e), but only a gateway may split the way: add an exclusive gateway after it to choose one path, "
        "or a parallel gateway to take them all"
    ],
    "timer_without_time.bpmn": [
        '27: Event_wait_two_days: the timer has no time: choose its Type in the modeller (Duration, e.g. "P2D" with '
        "the quotes, or Date) and write its value"
    ],
    "two_decisions.dmn": [
        "32: amount_band: the file has 2 decisions (refund_approvals, amount_band), but the engine reads one "
        "decision table per DMN file: move each decision to a file of its own"
    ],
    "web_page_saved_as.bpmn": [
        "1: -: the file is a web page (HTML), not a diagram: download the file itself (on GitHub: Raw or Download), "
        "or save the diagram from the modeller"
    ],
}


def messages_of(sources: list[Source], **options) -> list[str]:
    with pytest.raises(ProcessesInvalid) as caught:
        parse_sources(sources, set(OPERATIONS), **options)
    return [p.message for p in caught.value.problems]


def _validate(directory: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", "validate", str(directory)], capture_output=True, text=True
    )


def test_every_diagram_of_the_folder_has_its_row():
    assert sorted(p.name for p in DIAGRAMS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_broken_diagram_is_named_by_file_line_element_and_fix(name):
    source = Source(name, name, (DIAGRAMS / name).read_text(encoding="utf-8"))
    assert messages_of([source]) == [f"{name}:{line}" for line in EXPECTED[name]]


def test_make_validate_prints_every_problem_of_the_folder_and_fails():
    done = _validate(DIAGRAMS)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "valid" not in done.stdout
    expected = [f"{DIAGRAMS / name}:{line}" for name in EXPECTED for line in EXPECTED[name]]
    assert sorted(done.stderr.splitlines()) == sorted(expected)


def test_a_folder_with_a_process_not_marked_executable_fails_validation(tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, folder)
    shutil.copy(DIAGRAMS / "new_diagram_not_executable.bpmn", folder / "refund.bpmn")
    done = _validate(folder)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == f"{folder / 'refund.bpmn'}:3: Process_1: {NOT_EXECUTABLE}\n"


def test_a_shipped_process_not_marked_executable_is_refused_at_its_line(tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, folder)
    (folder / REQUEST).write_bytes(copy_with(REQUEST, ('isExecutable="true"', 'isExecutable="false"')))
    line = next(n for n, text in enumerate((folder / REQUEST).read_text().splitlines(), 1) if "<bpmn:process " in text)
    with pytest.raises(ProcessesInvalid) as caught:
        load_directory(folder, set(OPERATIONS))
    assert [p.message for p in caught.value.problems] == [
        f"{folder / REQUEST}:{line}: invoice_cancellation_request: {NOT_EXECUTABLE}"
    ]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda folder: folder.mkdir(), "the folder has no .bpmn file, so no process"),
        (lambda folder: shutil.copytree(PROCESSES_DIR, folder, ignore=shutil.ignore_patterns("*.bpmn")), "no .bpmn"),
        (lambda folder: None, "the folder does not exist"),
    ],
)
def test_a_folder_without_a_process_fails_validation(tmp_path, make, expected):
    folder = tmp_path / "processes"
    make(folder)
    done = _validate(folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"{folder}:0: -: ") and expected in done.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("new_diagram_not_executable.bpmn", f"refund.bpmn:3: Process_1: {NOT_EXECUTABLE}"),
        ("collapsed_pool_only.bpmn", "refund.bpmn:2: Definitions_1q0z4hm: the file has no process to run"),
    ],
)
def test_deploying_a_file_without_an_executable_process_is_refused_and_writes_nothing(
    demo, uow, db_snapshot, name, expected
):
    before = db_snapshot()
    with uow() as s, pytest.raises(Invalid) as caught:
        deployments.deploy(s, demo.actor("analyst"), "refund.bpmn", (DIAGRAMS / name).read_bytes())
    assert caught.value.errors["file"].startswith(expected)
    assert "used by no process" not in caught.value.errors["file"]
    assert db_snapshot() == before


def test_the_processes_page_shows_why_a_diagram_is_refused(web, demo, db_snapshot):
    before = db_snapshot()
    refused = upload(web("analyst"), "refund.bpmn", (DIAGRAMS / "new_diagram_not_executable.bpmn").read_bytes())
    assert refused.status_code == 422 and f"refund.bpmn:3: Process_1: {NOT_EXECUTABLE}" in refused.text
    assert db_snapshot() == before


def test_a_stored_version_still_loads_when_a_later_rule_would_refuse_it():
    """An instance's version was validated when it was deployed: a second pool with steps, left not executable,
    was skipped then and is skipped when the version loads again."""
    name = "second_pool_not_executable.bpmn"
    source = Source(name, name, (DIAGRAMS / name).read_text(encoding="utf-8"))
    assert set(parse_sources([source], set(OPERATIONS), deployed=True)) == {"refund_request"}


def test_a_broken_dmn_file_is_named_by_the_tasks_that_use_it(tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, folder)
    shutil.copy(DIAGRAMS / "table_saved_as_text.dmn", folder / "approval_policy.dmn")
    with pytest.raises(ProcessesInvalid) as caught:
        load_directory(folder, set(OPERATIONS))
    dmn, bpmn = [p.message for p in caught.value.problems]
    assert dmn.startswith(f"{folder / 'approval_policy.dmn'}:1: -: the file is not well-formed XML")
    assert bpmn.startswith(f"{folder / REQUEST}:")
    assert bpmn.endswith(
        ": decide_approvals: the business rule task uses the decision 'approval_policy', which is in no DMN file that "
        "loads: fix approval_policy.dmn (its problems are listed with it), or correct the Decision reference"
    )


def test_a_copy_of_a_process_beside_it_is_refused(tmp_path):
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES_DIR, folder)
    shutil.copy(folder / REQUEST, folder / "request_copy.bpmn")
    with pytest.raises(ProcessesInvalid) as caught:
        load_directory(folder, set(OPERATIONS))
    (message,) = [p.message for p in caught.value.problems]
    assert message.startswith(f"{folder / 'request_copy.bpmn'}:")
    assert message.endswith(
        f": invoice_cancellation_request: the process id is already used in {REQUEST}: give this process another "
        "id, or remove the copy"
    )
