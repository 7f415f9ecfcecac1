"""Checking a DMN file: one decision table per file (what SpiffWorkflow's DMN parser runs), parsed as the engine
will, its UNIQUE rules exclusive, its decision ids used by no other file."""

from __future__ import annotations

from functools import cache

from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnValidator
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS

from engine.errors import ProcessDefinitionError

from . import checks
from .parser_messages import check_schema, parser_errors
from .prechecks import Problem, words
from .sources import Source, line_of

_NEEDS_ID = ("decision", "decisionTable", "input", "output", "rule", "inputEntry", "outputEntry")
_BOXED = ("literal expression", "context", "relation", "list")


def _structure(root) -> Problem | None:
    """What SpiffWorkflow's DMN parser crashes on: no decision, several, no table, a rule with surplus entries."""
    decisions = root.findall("{*}decision")
    if not decisions:
        return root.sourceline, root.get("id"), "the file has no decision: add a decision table in the modeller"
    if len(decisions) > 1:
        ids = ", ".join(d.get("id") or "without id" for d in decisions)
        message = (
            f"the file has {len(decisions)} decisions ({ids}), but the engine reads one decision table per DMN "
            "file: move each decision to a file of its own"
        )
        return decisions[1].sourceline, decisions[1].get("id"), message
    decision = decisions[0]
    for element in decision.iter(*(f"{{*}}{kind}" for kind in _NEEDS_ID)):
        if not element.get("id"):
            message = f"the {words(element)} has no id, which the engine needs: give it one (the modeller writes them)"
            return element.sourceline, None, message
    table = decision.find("{*}decisionTable")
    if table is None:
        kind = next((words(c) for c in decision if isinstance(c.tag, str) and words(c) in _BOXED), None)
        what = f"is a {kind}, not a decision table" if kind else "has no decision table"
        message = f"the decision {what}, and the engine runs decision tables only: make it one in the modeller"
        return decision.sourceline, decision.get("id"), message
    columns = {kind: len(table.findall(f"{{*}}{kind}")) for kind in ("input", "output")}
    for rule in table.findall("{*}rule"):
        entries = {kind: len(rule.findall(f"{{*}}{kind}Entry")) for kind in ("input", "output")}
        if any(entries[kind] > columns[kind] for kind in columns):
            message = (
                f"the rule has {entries['input']} input and {entries['output']} output entries, but the table has "
                f"{columns['input']} input and {columns['output']} output columns: give the rule one entry per column"
            )
            return rule.sourceline, rule.get("id"), message
    return None


@cache
def _schema(namespace: str | None) -> etree.XMLSchema | None:
    """The XSD of the file's DMN version (1.1, 1.2 or 1.3), built once."""
    return BpmnValidator(SCHEMAS[namespace]).validator if namespace in SCHEMAS else None


def check_dmn(source: Source, root) -> dict[str, tuple[set[str], set[str]]]:
    """decision id -> (input names, output names) of a DMN file; ProcessDefinitionError says what is wrong."""
    tree = root.getroottree()
    problem = _structure(root)
    if problem is not None:
        raise ProcessDefinitionError(source.label, *problem)
    schema = _schema(etree.QName(root).namespace)
    if schema is not None:
        check_schema(source.label, tree, schema)
    parser = CamundaParser()  # checked against the XSD above
    with parser_errors(source.label, tree, (root.sourceline, None)):
        parser.add_dmn_xml(root, filename=source.label)
        for dmn in parser.dmn_parsers.values():
            dmn.parse()
    for element_id, message in checks.unique_overlaps(root):
        raise ProcessDefinitionError(source.label, line_of(tree, element_id), element_id, message)
    return checks.dmn_decisions(root)


def check_unique_decisions(source: Source, root, decisions: dict, dmns: list) -> None:
    """Two files deciding under one id would silently shadow each other in the parser."""
    for other, _root, found in dmns:
        for decision_id in decisions.keys() & found.keys():
            raise ProcessDefinitionError(
                source.label,
                line_of(root.getroottree(), decision_id),
                decision_id,
                f"the decision id is already used in {other.name}: give this decision another id",
            )
