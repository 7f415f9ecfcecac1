"""Edits an analyst makes in the modeller, done on the shipped request diagram's text: `from diagram_edits import
changed_request` (shared by the Compare tests in tests/ and tests/browser/)."""

from __future__ import annotations

from helpers import REQUEST, copy_with
from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"

# The Reminder branch of Review request: the boundary timer, its script task, its end event and their flows.
REMINDER = (
    "remind_review",
    "flow_remind_review_remind_deciders",
    "remind_deciders",
    "flow_remind_deciders_end_reminded",
    "end_reminded",
)
ADDED = ("decision_recorded", "flow_decision_recorded_decision_gateway")

_DECISION_RECORDED = """
    <bpmn:intermediateThrowEvent id="decision_recorded" name="Decision recorded">
      <bpmn:incoming>flow_record_decision_decision_gateway</bpmn:incoming>
      <bpmn:outgoing>flow_decision_recorded_decision_gateway</bpmn:outgoing>
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="flow_decision_recorded_decision_gateway" sourceRef="decision_recorded"
                       targetRef="decision_gateway" />
  </bpmn:process>"""
_DECISION_RECORDED_DI = """
      <bpmndi:BPMNShape id="decision_recorded_di" bpmnElement="decision_recorded">
        <dc:Bounds x="1674" y="422" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="flow_decision_recorded_decision_gateway_di"
                       bpmnElement="flow_decision_recorded_decision_gateway">
        <di:waypoint x="1710" y="440" /><di:waypoint x="1720" y="440" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>"""


def without(text: str, *ids: str) -> str:
    """The diagram without these elements: their definitions, their shapes or edges, and every reference to them
    in a lane or in an element's incoming and outgoing flows."""
    root = etree.fromstring(text.encode())
    doomed = [e for e in root.iter() if isinstance(e.tag, str) and e.get("id") in ids]
    doomed += [e for e in root.iter(f"{{{BPMNDI}}}BPMNShape", f"{{{BPMNDI}}}BPMNEdge") if e.get("bpmnElement") in ids]
    refs = (f"{{{BPMN}}}flowNodeRef", f"{{{BPMN}}}incoming", f"{{{BPMN}}}outgoing")
    doomed += [e for e in root.iter(*refs) if (e.text or "").strip() in ids]
    for element in doomed:
        element.getparent().remove(element)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


def changed_request(new_name: str = "Approve cancellation request") -> bytes:
    """The request diagram with Review request renamed, the Reminder branch removed and a "Decision recorded" event
    added between Record decision and the Approved? gateway."""
    flow = 'id="flow_record_decision_decision_gateway" sourceRef="record_decision" targetRef="decision_gateway"'
    into_gateway = "<bpmn:incoming>flow_record_decision_decision_gateway</bpmn:incoming>\n      <bpmn:outgoing>flow_a"
    decision_di = 'bpmnElement="flow_record_decision_decision_gateway">\n        <di:waypoint x="1660" y="440" />'
    text = copy_with(
        REQUEST,
        ('name="Review request"', f'name="{new_name}"'),
        (flow, flow.replace('targetRef="decision_gateway"', 'targetRef="decision_recorded"')),
        (into_gateway, into_gateway.replace("flow_record_decision_", "flow_decision_recorded_")),
        ("<bpmn:flowNodeRef>decision_gateway</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>decision_gateway</bpmn:flowNodeRef>\n"
         "        <bpmn:flowNodeRef>decision_recorded</bpmn:flowNodeRef>"),
        ("\n  </bpmn:process>", _DECISION_RECORDED),
        ("\n    </bpmndi:BPMNPlane>", _DECISION_RECORDED_DI),
        (decision_di + '<di:waypoint x="1720" y="440" />', decision_di + '<di:waypoint x="1674" y="440" />'),
    ).decode()  # fmt: skip
    return without(text, *REMINDER).encode()
