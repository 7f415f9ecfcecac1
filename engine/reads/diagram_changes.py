"""Which drawn elements two versions of a diagram add, change and remove (Compare colours them): a pure function
of the two BPMN files' XML.

An element is the same when its id is; it changed when what it does differs: its type, name, attributes (the
cosmetic colour attributes of modellers aside), form fields, properties, script, condition or timer, or the lane
it is in (lanes say who acts). Where it is drawn, its documentation and the flows it lists as incoming or
outgoing (each flow is an element of its own) do not count.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

_BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
_COSMETIC = ("http://bpmn.io/schema/bpmn/biocolor/1.0", "http://www.omg.org/spec/BPMN/non-normative/color/1.0")
# Children that say where an element sits rather than what it does.
_NOT_BEHAVIOUR = {f"{{{_BPMN}}}{name}" for name in ("incoming", "outgoing", "documentation", "flowNodeRef")}
_LANE_SET = f"{{{_BPMN}}}laneSet"  # its lanes are drawn elements of their own
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True)


@dataclass(frozen=True)
class DiagramChanges:
    added: list[str]  # ids of the new version's elements the old one has not
    changed: list[str]  # ids in both whose behaviour differs
    removed: list[str]  # ids of the old version's elements the new one has not

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def diagram_changes(old_xml: str, new_xml: str) -> DiagramChanges:
    """Element ids added, changed and removed from `old_xml` to `new_xml`, each list in its file's order."""
    old, new = _elements(old_xml), _elements(new_xml)
    return DiagramChanges(
        added=[i for i in new if i not in old],
        changed=[i for i in new if i in old and old[i] != new[i]],
        removed=[i for i in old if i not in new],
    )


def _elements(xml: str) -> dict[str, tuple]:
    """Every drawn element (a shape or an edge of the diagram) by id, with what it does."""
    root = etree.fromstring(xml.encode(), _PARSER)  # noqa: S320 - a deployed version's file: no entities resolved
    drawn = {
        shape.get("bpmnElement")
        for shape in root.iter(f"{{{_BPMNDI}}}BPMNShape", f"{{{_BPMNDI}}}BPMNEdge")
        if shape.get("bpmnElement")
    }
    lanes = {
        ref.text.strip(): lane.get("name") or lane.get("id")
        for lane in root.iter(f"{{{_BPMN}}}lane")
        for ref in lane.iter(f"{{{_BPMN}}}flowNodeRef")
        if ref.text
    }
    return {
        element.get("id"): (_part(element, drawn, own=True), lanes.get(element.get("id")))
        for element in root.iter()
        if isinstance(element.tag, str) and element.get("id") in drawn and etree.QName(element).namespace == _BPMN
    }


def _part(element, drawn: set[str], own: bool = False) -> tuple:
    """The element as comparable data; drawn elements inside it (a sub-process's steps, a lane set's lanes) are
    compared on their own, so they are left out, as is the element's own id."""
    attributes = tuple(
        sorted(
            (name, value)
            for name, value in element.attrib.items()
            if not (own and name == "id") and not name.startswith(tuple(f"{{{ns}}}" for ns in _COSMETIC))
        )
    )
    text = element.text if element.text and element.text.strip() else None
    children = tuple(
        _part(child, drawn)
        for child in element
        if child.tag not in _NOT_BEHAVIOUR
        and child.get("id") not in drawn
        and etree.QName(child).localname != "laneSet"
    )
    return element.tag, attributes, text, children
