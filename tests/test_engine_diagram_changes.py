"""Compare colours the elements two versions add, change and remove: the element-level diff of their BPMN XML
(engine.reads.diagram_changes), a pure function tested here without a database."""

from __future__ import annotations

import pytest
from diagram_edits import ADDED, REMINDER, changed_request
from helpers import REQUEST, copy_with

from engine.reads.diagram_changes import diagram_changes
from engine.workflow.parsing import PROCESSES_DIR

SHIPPED = (PROCESSES_DIR / REQUEST).read_text()


def changes_to(*replacements: tuple[str, str]):
    return diagram_changes(SHIPPED, copy_with(REQUEST, *replacements).decode())


def test_the_same_diagram_has_no_changes():
    changes = diagram_changes(SHIPPED, SHIPPED)
    assert (changes.added, changes.changed, changes.removed) == ([], [], []) and not changes


def test_a_renamed_task_an_added_event_and_a_removed_branch_are_named_by_element_id():
    changes = diagram_changes(SHIPPED, changed_request().decode())
    assert changes.added == list(ADDED)
    # the flow now ends on the added event; the gateway and the lane only list other flows and nodes
    assert changes.changed == ["review_request", "flow_record_decision_decision_gateway"]
    assert sorted(changes.removed) == sorted(REMINDER)


def test_what_does_not_change_behaviour_is_no_change():
    moved = ('<dc:Bounds x="930" y="400"', '<dc:Bounds x="940" y="410"')  # Review request's shape
    documented = ("Billing staff state why the invoice", "Billing staff say why the invoice")
    resaved = SHIPPED.replace('exporter="hand-written"', 'exporter="Camunda Modeler"').replace("\n    <", "\n\t\t<")
    assert not changes_to(moved, documented)
    assert not diagram_changes(SHIPPED, resaved)


@pytest.mark.parametrize(
    ("old", "new", "changed"),
    [
        ('id="remarks" label="Remarks"', 'id="remarks" label="Notes"', "request_cancellation"),
        ('name="maxlength" config="1000"', 'name="maxlength" config="500"', "request_cancellation"),
        ("remarks=remarks)", "remarks=remarks[:500])", "record_request"),
        ('decision == "approve"</bpmn:conditionExpression>', 'decision != "reject"</bpmn:conditionExpression>',
         "flow_approved"),
        ('clinic_setting("escalate_after")</bpmn:timeDuration>', '"P5D"</bpmn:timeDuration>', "escalate_review"),
        ('cancelActivity="true"', 'cancelActivity="false"', "withdraw_review"),
        ('camunda:decisionRef="approval_policy"', 'camunda:decisionRef="approval_policy_2026"', "decide_approvals"),
    ],
    ids=["form-label", "form-constraint", "script", "condition", "timer", "attribute", "decision-table"],
)  # fmt: skip
def test_a_change_of_behaviour_marks_the_element(old, new, changed):
    changes = changes_to((old, new))
    assert (changes.added, changes.changed, changes.removed) == ([], [changed], [])


def test_another_type_of_element_is_a_change():
    start = SHIPPED.index('<bpmn:scriptTask id="record_decision"')
    end = SHIPPED.index("</bpmn:scriptTask>", start) + len("</bpmn:scriptTask>")
    service = SHIPPED[start:end].replace("bpmn:scriptTask", "bpmn:serviceTask")
    assert diagram_changes(SHIPPED, SHIPPED[:start] + service + SHIPPED[end:]).changed == ["record_decision"]


def test_a_renamed_lane_changes_who_does_its_steps():
    changes = changes_to(('<bpmn:lane id="lane_admin" name="Clinic administrator">',
                          '<bpmn:lane id="lane_admin" name="Finance director">'))  # fmt: skip
    assert changes.changed[0] == "lane_admin"
    assert set(changes.changed[1:]) == {
        "second_approval", "withdraw_second", "record_withdrawal", "end_withdrawn", "record_escalation",
        "escalated_review", "withdraw_escalated",
    }  # fmt: skip
