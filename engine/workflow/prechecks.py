"""Checks on a BPMN file's XML made before SpiffWorkflow parses it: what its parser would skip silently (a process
not marked executable), crash on, or report naming no element, line or fix ("There is no support implemented for
this task type."). Each problem is (line, element id, message)."""

from __future__ import annotations

import re

from lxml import etree

from .checks import BPMN, CAMUNDA, NS, gateway_conditions

Problem = tuple[int | None, str | None, str]

NOT_EXECUTABLE = "the process is not marked executable: tick Executable in the modeller"
NO_PROCESS = (
    "the file has no process to run: draw one in the modeller (a start event, the tasks, an end event) "
    "and tick Executable"
)
_RUNS = re.compile(r"(Event|Task|Gateway|^task|[sS]ubProcess|^callActivity|^transaction|^sequenceFlow)$")


def words(element_or_tag) -> str:
    """`userTask` -> "user task", `{...}formField` -> "form field"."""
    local = etree.QName(element_or_tag).localname
    return re.sub(r"(?<=[a-z])([A-Z])", lambda m: " " + m[1].lower(), local)


def describe(element) -> str:
    """ "the user task 'Review request'" (its name, or a form field's label), else "the user task"."""
    name = element.get("name") or element.get("label")
    return f"the {words(element)} '{name}'" if name else f"the {words(element)}"


def _bpmn_elements(process) -> dict[str, object]:
    found: dict[str, object] = {}
    for element in process.iter(f"{{{BPMN}}}*"):
        if element.get("id"):
            found.setdefault(element.get("id"), element)
    return found


def executable_ids(root) -> list[str]:
    """The ids of the file's processes marked executable (a stored version's, checked when it was deployed)."""
    return [p.get("id") for p in root.findall(f"{{{BPMN}}}process") if p.get("isExecutable") == "true"]


def processes_to_run(root) -> tuple[list, list[Problem]]:
    """The file's processes marked executable, and a problem for each other process and for a file without one.

    A process not marked executable is refused (SpiffWorkflow would skip it silently, and bpmn-js marks a new
    diagram so), except an empty pool: a participant whose process has no step of its own ("black box" pool,
    e.g. the patient or the billing system that messages go to) documents a partner and has nothing to run.
    A missing isExecutable counts as not marked: the modeller always writes it.
    """
    pools = set(root.xpath("bpmn:collaboration/bpmn:participant/@processRef", namespaces=NS))
    run, problems = [], []
    for process in root.findall(f"{{{BPMN}}}process"):
        steps = [c for c in process if isinstance(c.tag, str) and _RUNS.search(etree.QName(c).localname)]
        if process.get("isExecutable") == "true":
            run.append(process)
        elif process.get("id") not in pools or steps:
            problems.append((process.sourceline, process.get("id"), NOT_EXECUTABLE))
    if not run and not problems:
        problems.append((root.sourceline, root.get("id"), NO_PROCESS))
    return run, problems


def missing_ids(process) -> list[Problem]:
    """The process and its steps and flows need ids (the XSD leaves them optional; the modeller always writes them)."""
    message = "{} has no id, which the engine needs: give it one (in the modeller's properties panel: ID)"
    return [
        (e.sourceline, None, message.format(describe(e)))
        for e in process.iter(f"{{{BPMN}}}*")
        if not e.get("id") and (e is process or _RUNS.search(etree.QName(e).localname))
    ]


def id_clashes(process) -> list[Problem]:
    """An extension element (a camunda:formField, a choice) with the id of a BPMN element of its process: the
    parser finds elements by id, takes the later one and says "There is no support implemented for this task
    type", or not, depending on the order of the file."""
    elements, problems = _bpmn_elements(process), []
    for extension in process.iter():
        if not isinstance(extension.tag, str) or etree.QName(extension).namespace == BPMN:
            continue
        other = elements.get(extension.get("id"))
        if other is None:
            continue
        message = (
            f"the {words(extension)} id '{extension.get('id')}' is also the id of {describe(other)} on line "
            f"{other.sourceline}, and the engine finds elements by id: give the {words(extension)} another id"
        )
        if etree.QName(extension).localname == "formField":
            message += " (it names the variable the form sets: change the scripts and conditions that read it too)"
        problems.append((extension.sourceline, extension.get("id"), message))
    return problems


def flow_ends(process, root) -> list[Problem]:
    """A sequence flow whose start or end is no element of its process (SpiffWorkflow: "When looking for a task
    spec, we found two items, perhaps a form has the same ID?")."""
    elements, problems = _bpmn_elements(process), []
    for flow in process.iter(f"{{{BPMN}}}sequenceFlow"):
        for attribute, end, verb in (("sourceRef", "start", "comes from"), ("targetRef", "end", "goes to")):
            ref = flow.get(attribute)
            if ref is None or ref in elements:  # a missing attribute is the XSD's to report
                continue
            others = "bpmn:process[@id!=$process]//bpmn:*[@id=$id]"
            if root.xpath(others, process=process.get("id"), id=ref, namespaces=NS):
                where = (
                    "which is in another pool: a sequence flow stays in its pool (draw a message flow between pools)"
                )
            else:
                where = "which is not in the diagram"
            message = (
                f"the sequence flow {verb} '{ref}', {where}: reconnect its {end} to an element of this process in "
                "the modeller, or delete the flow"
            )
            problems.append((flow.sourceline, flow.get("id"), message))
    return problems


def rule_tasks(process, decisions: set[str], broken_dmns: list[str]) -> list[Problem]:
    """Business rule tasks must name a decision a DMN file defines (SpiffWorkflow crashes without a reference)."""
    problems = []
    for task in process.iter(f"{{{BPMN}}}businessRuleTask"):
        ref = task.get(f"{{{CAMUNDA}}}decisionRef")
        if not ref:
            message = (
                "the business rule task has no decision reference: in the modeller set Implementation to DMN and "
                "Decision reference to the id of the decision it uses"
            )
        elif ref in decisions:
            continue
        elif broken_dmns:
            message = (
                f"the business rule task uses the decision '{ref}', which is in no DMN file that loads: fix "
                f"{', '.join(broken_dmns)} (its problems are listed with it), or correct the Decision reference"
            )
        else:
            message = (
                f"the business rule task uses the decision '{ref}', which no DMN file defines (they define "
                f"{', '.join(sorted(decisions)) or 'none'}): correct the Decision reference, or add the DMN file"
            )
        problems.append((task.sourceline, task.get("id"), message))
    return problems


def event_gateways(process) -> list[Problem]:
    """An event-based gateway waits for the first of its events: what follows it must be a catch event or a
    receive task (SpiffWorkflow fails with "... object has no attribute 'event_definition'")."""
    elements, problems = _bpmn_elements(process), []
    for gateway in process.iter(f"{{{BPMN}}}eventBasedGateway"):
        for flow in process.xpath(".//bpmn:sequenceFlow[@sourceRef=$id]", id=gateway.get("id"), namespaces=NS):
            target = elements.get(flow.get("targetRef"))
            if target is not None and etree.QName(target).localname not in ("intermediateCatchEvent", "receiveTask"):
                message = (
                    f"the event-based gateway leads to {describe(target)}, but it may only lead to the events it waits "
                    "for (timer, message or signal catch events, or receive tasks): put them right after the gateway"
                )
                problems.append((gateway.sourceline, gateway.get("id"), message))
    return problems


def service_tasks(process) -> list[Problem]:
    """A service task parses but does nothing in this engine, and its spec cannot be stored."""
    message = (
        "a service task does nothing in this engine (it runs no Java class, expression or external worker): "
        "use a script task that calls one of the engine's operations"
    )
    return [(t.sourceline, t.get("id"), message) for t in process.iter(f"{{{BPMN}}}serviceTask")]


def bpmn_problems(root, decisions: set[str], broken_dmns: list[str]) -> tuple[list[str], list[Problem]]:
    """The ids of the processes to parse, and every problem found before parsing, in the order of the file."""
    run, problems = processes_to_run(root)
    tree = root.getroottree()
    for process in run:
        if missing := missing_ids(process):
            problems += missing
            continue
        problems += id_clashes(process) + flow_ends(process, root) + rule_tasks(process, decisions, broken_dmns)
        problems += service_tasks(process) + event_gateways(process)
        for element_id, message in gateway_conditions(process):
            problems.append((tree.xpath("//*[@id=$id]", id=element_id)[0].sourceline, element_id, message))
    return [p.get("id") for p in run], sorted(problems, key=lambda p: p[0] or 0)
