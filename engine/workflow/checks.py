"""Checks on the diagrams' XML that neither the XSD nor SpiffWorkflow's parser makes.

Each returns (element id, message) pairs; parsing.py and prechecks.py turn them into `path:line: element-id: message`.
"""

from __future__ import annotations

import ast
import re
from collections import deque
from decimal import Decimal, InvalidOperation

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN, "camunda": CAMUNDA}
# What every instance knows of its invoice (instances.context.invoice_facts): for conditions, scripts, DMN inputs.
SEEDED = {
    "invoice_number", "patient_name", "patient_id", "amount", "currency",
    "payment_status", "claim_status", "advance_applied", "cancellation_workflow",
}  # fmt: skip
FLOW_NODES = (
    "startEvent", "endEvent", "userTask", "scriptTask", "serviceTask", "businessRuleTask", "task", "manualTask",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "intermediateCatchEvent", "intermediateThrowEvent",
    "subProcess", "callActivity", "eventBasedGateway",
)  # fmt: skip


def _local(element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _nodes(process) -> dict[str, object]:
    return {e.get("id"): e for e in process.iter() if isinstance(e.tag, str) and _local(e) in FLOW_NODES}


def _flows(process) -> list:
    return process.xpath(".//bpmn:sequenceFlow", namespaces=NS)


def unreachable(process) -> list[tuple[str, str]]:
    """Flow nodes no path from a start event reaches (boundary events count as reached with their host)."""
    nodes = _nodes(process)
    following: dict[str, list[str]] = {}
    for flow in _flows(process):
        following.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    for boundary in process.xpath(".//bpmn:boundaryEvent", namespaces=NS):
        following.setdefault(boundary.get("attachedToRef"), []).append(boundary.get("id"))
        nodes[boundary.get("id")] = boundary
    queue = deque(i for i, e in nodes.items() if _local(e) == "startEvent" and e.getparent() is process)
    seen = set(queue)
    while queue:
        for target in following.get(queue.popleft(), []):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return [
        (i, "no path from the start event reaches this element: connect it or delete it")
        for i, e in nodes.items()
        if i not in seen and e.getparent() is process
    ]


def gateway_conditions(process) -> list[tuple[str, str]]:
    """Every outgoing flow of an exclusive or inclusive gateway with several has a condition, or is the default
    (SpiffWorkflow's own message, "Non-default exclusive outgoing sequence flow without condition", names no fix)."""
    problems = []
    flows = {f.get("id"): f for f in _flows(process)}
    for gateway in process.xpath(".//bpmn:exclusiveGateway | .//bpmn:inclusiveGateway", namespaces=NS):
        outgoing = [flows[f.get("id")] for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
        if len(outgoing) < 2:
            continue
        always = " (True to take it always)" if _local(gateway) == "inclusiveGateway" else ""
        for flow in outgoing:
            condition = flow.find(f"{{{BPMN}}}conditionExpression")
            if (condition is not None and (condition.text or "").strip()) or gateway.get("default") == flow.get("id"):
                continue
            what = "no condition" if condition is None else "an empty condition"
            problems.append(
                (flow.get("id"), f"the flow leaving gateway '{gateway.get('id')}' has {what} and is not its default: "
                 f"add a condition{always} or make it the default flow")
            )  # fmt: skip
    return problems


def _assigned_names(script: str) -> set[str]:
    try:
        tree = ast.parse(script or "")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def produced_before(process, element_id: str, dmn_outputs: dict[str, set[str]]) -> set[str]:
    """Variable names set on some path before the element: seeds, form fields, script results, DMN outputs."""
    nodes = _nodes(process)
    preceding: dict[str, list[str]] = {}
    for flow in _flows(process):
        preceding.setdefault(flow.get("targetRef"), []).append(flow.get("sourceRef"))
    names, seen, queue = set(SEEDED), {element_id}, deque(preceding.get(element_id, []))
    while queue:
        node_id = queue.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        node = nodes[node_id]
        names |= {f.get("id") for f in node.xpath(".//camunda:formField", namespaces=NS)}
        script = node.find(f"{{{BPMN}}}script")
        if script is not None:
            names |= _assigned_names(script.text)
        names |= dmn_outputs.get(node.get(f"{{{CAMUNDA}}}decisionRef") or "", set())
        queue.extend(preceding.get(node_id, []))
    return names


# ---- DMN ---------------------------------------------------------------------------------------------------

_INTERVAL = re.compile(r"^\s*([\[\]])\s*(-?[\d.]+)\s*\.\.\s*(-?[\d.]+)\s*([\[\]])\s*$")
_COMPARE = re.compile(r"^\s*(<=|>=|<|>|==|=)?\s*(-?[\d.]+)\s*$")
_BETWEEN = re.compile(r"^\s*(-?[\d.]+)\s*(<=|<)\s*\?\s*(<=|<)\s*(-?[\d.]+)\s*$")
INF = Decimal("Infinity")


def _interval(entry: str):
    """A numeric input entry as (low, low_closed, high, high_closed), or None when not a simple number test."""
    text = (entry or "").strip()
    try:
        if text in ("", "-"):
            return (-INF, False, INF, False)
        if m := _INTERVAL.match(text):
            return (Decimal(m[2]), m[1] == "[", Decimal(m[3]), m[4] == "]")
        if m := _BETWEEN.match(text):
            return (Decimal(m[1]), m[2] == "<=", Decimal(m[4]), m[3] == "<=")
        if m := _COMPARE.match(text):
            value, op = Decimal(m[2]), m[1] or "=="
            return {
                "<": (-INF, False, value, False),
                "<=": (-INF, False, value, True),
                ">": (value, False, INF, False),
                ">=": (value, True, INF, False),
            }.get(op, (value, True, value, True))
    except InvalidOperation:
        return None
    return None


def _overlap(a, b) -> bool:
    low = max((a[0], a[1]), (b[0], b[1]), key=lambda x: (x[0], not x[1]))
    high = min((a[2], a[3]), (b[2], b[3]), key=lambda x: (x[0], x[1]))
    return low[0] < high[0] or (low[0] == high[0] and low[1] and high[1])


def _entries_overlap(a: str, b: str) -> bool:
    ia, ib = _interval(a), _interval(b)
    if ia is not None and ib is not None:
        return _overlap(ia, ib)
    sa, sb = (a or "").strip(), (b or "").strip()
    return sa in ("", "-") or sb in ("", "-") or sa == sb  # unknown expressions: equal text overlaps


def unique_overlaps(dmn_root) -> list[tuple[str, str]]:
    """Rules of a UNIQUE table that can both match (SpiffWorkflow silently takes the first)."""
    problems = []
    for table in dmn_root.iter():
        if not isinstance(table.tag, str) or _local(table) != "decisionTable":
            continue
        if (table.get("hitPolicy") or "UNIQUE").upper() != "UNIQUE":
            continue
        rules = [r for r in table if isinstance(r.tag, str) and _local(r) == "rule"]
        entries = [[(e.findtext("{*}text") or "") for e in r if _local(e) == "inputEntry"] for r in rules]
        for i, first in enumerate(rules):
            for j in range(i + 1, len(rules)):
                if all(_entries_overlap(a, b) for a, b in zip(entries[i], entries[j], strict=False)):
                    problems.append(
                        (rules[j].get("id"), f"rules '{first.get('id')}' and '{rules[j].get('id')}' of a UNIQUE table "
                         "can both match: make their conditions exclusive or change the hit policy")
                    )  # fmt: skip
    return problems


def dmn_decisions(dmn_root) -> dict[str, tuple[set[str], set[str]]]:
    """decision id -> (input expression names, output names)."""
    found = {}
    for decision in dmn_root.iter():
        if not isinstance(decision.tag, str) or _local(decision) != "decision":
            continue
        inputs, outputs = set(), set()
        for element in decision.iter():
            if not isinstance(element.tag, str):
                continue
            if _local(element) == "inputExpression":
                text = element.findtext("{*}text") or ""
                try:
                    inputs |= {n.id for n in ast.walk(ast.parse(text.strip(), mode="eval")) if isinstance(n, ast.Name)}
                except SyntaxError:
                    inputs.add(text.strip())
            elif _local(element) == "output" and element.get("name"):
                outputs.add(element.get("name"))
        found[decision.get("id")] = (inputs, outputs)
    return found
