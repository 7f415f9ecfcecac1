"""Events a person may send to a waiting step, from the diagram: an interrupting boundary message event with a
form (camunda:formData, like a user task's), e.g. "Withdraw Request" on Review request.

The engine offers each such event of a waiting step as a More Action item whose form comes from the diagram;
an analyst who removes the event from a step removes the item. Who may send it is the event's `offered_to`
property: `requester` (the default and, for now, the only one: the person who started the instance).
"""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaBoundaryEventParser
from SpiffWorkflow.camunda.parser.task_spec import UserTaskParser

from .checks import NS

OFFERED_TO = ("requester",)


class _FormBoundaryEventParser(CamundaBoundaryEventParser):
    """A boundary event that may carry a camunda form, parsed as a user task's form is."""

    get_form = UserTaskParser.get_form
    get_enum_field = UserTaskParser.get_enum_field

    def create_task(self):
        spec = super().create_task()
        spec.form = self.get_form() if self.xpath(".//camunda:formData") else None
        return spec


class ProductParser(CamundaParser):
    """CamundaParser, with forms on boundary events."""

    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("boundaryEvent"): (_FormBoundaryEventParser, BoundaryEvent),
    }


@dataclass(frozen=True)
class CatchEvent:
    element_id: str  # the boundary event
    name: str  # the message name, which the engine sends
    attached_to: str  # the step it interrupts
    result_var: str  # where the form's values land in the task data
    offered_to: str


def catch_events(process, spec) -> dict[str, list[CatchEvent]]:
    """attached step id -> the message boundary events with a form on it (`process` is the <bpmn:process>)."""
    found: dict[str, list[CatchEvent]] = {}
    for node in process.xpath(".//bpmn:boundaryEvent[bpmn:messageEventDefinition]", namespaces=NS):
        event_spec = spec.task_specs.get(node.get("id"))
        if event_spec is None or getattr(event_spec, "form", None) is None:
            continue
        definition = event_spec.event_definition
        offered_to = (getattr(event_spec, "extensions", None) or {}).get("offered_to", "requester")
        if offered_to not in OFFERED_TO:
            raise ValueError(f"the event's offered_to property is '{offered_to}'; use one of {', '.join(OFFERED_TO)}")
        if node.get("cancelActivity", "true").lower() != "true":
            raise ValueError("an event with a form must interrupt its step (cancelActivity true)")
        event = CatchEvent(
            node.get("id"),
            definition.name,
            node.get("attachedToRef"),
            definition.result_var or node.get("id"),
            offered_to,
        )
        found.setdefault(event.attached_to, []).append(event)
    return found
