"""SpiffWorkflow's parser messages and the XSD's, rewritten to name the element, its line and the fix: e.g.
"Multiple outgoing flows are not supported for tasks of type" becomes "the user task 'Review' has 2 outgoing flows
(f1, f2), but only a gateway may split the way: add an exclusive gateway after it ...".

The parser's ValidationException carries no line (only the element's id) and the XSD's names no element (only the
line): both are looked up in the parsed file."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import SpiffWorkflow
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException

from engine.errors import ProcessDefinitionError

from .checks import BPMN, NS
from .prechecks import describe, words
from .sources import element_at

Located = tuple[int | None, str | None, str]
_XSD = "http://www.w3.org/2001/XMLSchema"
_ELEMENT = r"^Element '(?P<tag>[^']+)'"
_ATTRIBUTE = _ELEMENT + r", attribute '(?P<attr>[^']+)'"
_MODELLER_ID = "(in the modeller's properties panel: ID)"


@cache
def _schema_elements() -> frozenset[str]:
    """The element names the BPMN and DMN schemas define (an unknown one is a typo, not a misplaced element)."""
    names: set[str] = set()
    for xsd in Path(SpiffWorkflow.__file__).parent.glob("*/parser/schema/*.xsd"):
        names |= set(etree.parse(str(xsd)).xpath("//xsd:element/@name", namespaces={"xsd": _XSD}))
    return frozenset(names)


def _subject(node, tag: str = "") -> str:
    return describe(node) if node is not None else f"the {words(tag)}" if tag else "the element"


# ---- the XSD's messages (the file breaks the BPMN or DMN schema) ----------------------------------------------


def _bad_id(m, node, tree) -> str:
    value = m["value"]
    same = [e for e in tree.xpath("//*[@id=$id]", id=value) if e is not node]
    if same:
        return (
            f"the id '{value}' is already the id of {describe(same[0])} on line {same[0].sourceline}: ids must be "
            f"unique in a file, so give {_subject(node, m['tag'])} another id {_MODELLER_ID}"
        )
    return (
        f"'{value}' is not a valid id: an id starts with a letter or '_' and has only letters, digits, '-', '_' "
        f"and '.' (no spaces): change it {_MODELLER_ID}"
    )


def _bad_reference(m, node, tree) -> str:
    return (
        f"the {m['attr']} of {_subject(node, m['tag'])} is '{m['value']}', which is not a valid id, so it points at "
        "nothing: connect it again in the modeller"
    )


def _missing_attribute(m, node, tree) -> str:
    attribute = m["attr"]
    if words(m["tag"]) == "sequence flow" and attribute in ("sourceRef", "targetRef"):
        end = "start" if attribute == "sourceRef" else "end"
        return f"the sequence flow has no {end} ({attribute}): connect it to an element in the modeller, or delete it"
    return f"{_subject(node, m['tag'])} has no {attribute}, which the file format requires: set it in the modeller"


def _unknown_attribute(m, node, tree) -> str:
    return (
        f"{_subject(node, m['tag'])} has an attribute '{m['attr']}' that the file format does not define: remove it "
        "(the Camunda Modeler's own settings have the camunda: prefix)"
    )


def _unexpected_element(m, node, tree) -> str:
    qname = etree.QName(m["tag"])
    if qname.namespace and not qname.namespace.startswith(("http://www.omg.org/", "https://www.omg.org/")):
        return (
            f"the <{qname.localname}> element ({qname.namespace}) may only stand inside extensionElements: move it "
            "there, or set it again in the modeller"
        )
    if qname.localname in _schema_elements():
        return (
            f"{_subject(node, m['tag'])} may not stand here (the file format fixes where each element goes and in "
            "which order): move it, or open the file in the modeller and save it, which writes it in order"
        )
    standard = "BPMN 2.0" if qname.namespace == BPMN else "DMN"
    known = {name.lower(): name for name in _schema_elements()}
    if qname.localname.lower() in known:  # <bpmn:usertask>
        return f"<{qname.localname}> is not an element of {standard}: write <{known[qname.localname.lower()]}>"
    return f"<{qname.localname}> is not an element of {standard}: draw the element with the modeller's palette instead"


def _missing_child(m, node, tree) -> str:
    expected = [words(t.strip()) for t in m["expected"].split(",")]
    article = "an" if expected[0][:1] in "aeiou" else "a"
    return f"{_subject(node, m['tag'])} lacks {article} {' or '.join(expected)}: complete it in the modeller"


# ---- SpiffWorkflow's parser -------------------------------------------------------------------------------------


def _unsupported(m, node, tree, exc) -> Located | str:
    if exc.tag.startswith("bpmn:"):
        kind = words(exc.tag.split(":")[-1])
        use = (
            "an exclusive, inclusive, parallel or event-based gateway"
            if kind.endswith("gateway")
            else "a user task, a script task or a business rule task"
        )
        return f"{_subject(node)} is a kind of element this engine does not run: use {use} instead"
    clash = next((e for e in tree.xpath("//*[@id=$id]", id=exc.id) if etree.QName(e).namespace != BPMN), None)
    line = clash.sourceline if clash is not None else None
    return (
        line,
        exc.id,
        f"the id '{exc.id}' is used twice in the process, and the engine finds elements by id: "
        + (f"give the {words(clash)} another id" if clash is not None else "give one of them another id"),
    )


def _multiple_outgoing(m, node, tree, exc) -> str:
    flows = [f.get("id") for f in tree.xpath("//bpmn:sequenceFlow[@sourceRef=$id]", id=exc.id, namespaces=NS)]
    return (
        f"{_subject(node)} has {len(flows)} outgoing flows ({', '.join(flows)}), but only a gateway may split the "
        "way: add an exclusive gateway after it to choose one path, or a parallel gateway to take them all"
    )


def _process_not_found(m, node, tree, exc) -> Located | str:
    called = m["id"]
    calls = tree.xpath("//bpmn:callActivity[@calledElement=$id]", id=called, namespaces=NS)
    message = (
        f"the call activity calls the process '{called}' (Called element), which is not in this file: draw that "
        "process in this file, or correct the Called element"
    )
    if calls:
        return calls[0].sourceline, calls[0].get("id"), message
    return f"the process '{called}' is needed but is not in this file: add it, or remove what calls it"


_PARSER: list[tuple[str, Callable | str]] = [
    (r"^There is no support implemented for this task type", _unsupported),
    (r"^Multiple outgoing flows are not supported", _multiple_outgoing),
    (r"^The process '(?P<id>[^']*)' was not found", _process_not_found),
    (r"^No start event found", "the process has no start event: add one where the process begins, then connect it"),
    (r"^Invalid Script Task", "the script task has no script: write it in the modeller (Script: inline, python)"),
    (
        r"Unknown Time Specification",
        'the timer has no time: choose its Type in the modeller (Duration, e.g. "P2D" with the quotes, or Date) '
        "and write its value",
    ),
    (
        r"^A multiinstance task must specify",
        "the task is multi-instance but has no Loop cardinality or Collection: set one in the modeller's "
        "Multi-instance section, or remove the multi-instance marker",
    ),
    (
        r"^A loopMaximum or loopCondition",
        "the task is a loop but has no loop condition or maximum (the modeller cannot set them): remove the loop "
        "marker and draw the loop with an exclusive gateway",
    ),
    (r'^No "calledElement" attribute', "the call activity has no Called element: set it to the id of the process"),
    (
        r"^Exactly one start event is required in a SubWorkflow Task; found (?P<n>\d+)",
        lambda m, node, *_: (
            f"{_subject(node)} has {m['n']} start events inside, and a sub-process needs exactly one: "
            "draw one (a plain start event) where its steps begin"
        ),
    ),
    (
        r"^A SubWorkflow Must contain an End event",
        lambda m, node, *_: f"{_subject(node)} has no end event inside: draw one where its steps end",
    ),
    (
        r"^Malformed Output Expression '(?P<text>.*)'\. (?P<why>[^(]*)",
        lambda m, *_: (
            f"the output entry '{m['text']}' is not a valid expression ({m['why'].strip()}): write a value "
            'such as 2, "text" (with the quotes) or True'
        ),
    ),
]
_SCHEMA: list[tuple[str, Callable]] = [
    (_ATTRIBUTE + r": '(?P<value>[^']*)' is not a valid value of the atomic type 'xs:ID'", _bad_id),
    (_ATTRIBUTE + r": '(?P<value>[^']*)' is not a valid value of the atomic type 'xs:IDREF'", _bad_reference),
    (_ELEMENT + r": The attribute '(?P<attr>[^']+)' is required but missing", _missing_attribute),
    (_ATTRIBUTE + r": The attribute '[^']+' is not allowed", _unknown_attribute),
    (_ELEMENT + r": This element is not expected", _unexpected_element),
    (_ELEMENT + r": Missing child element\(s\)\. Expected is (?:one of )?\( (?P<expected>[^)]*) \)", _missing_child),
]


def _tidy(message: str) -> str:
    """The XSD's {namespace}names shortened, its long lists of expected elements and doubled full stops dropped."""
    message = re.sub(r"\{" + re.escape(BPMN) + r"\}", "bpmn:", message)
    message = re.sub(r"\{[^}]*\}", "", message)
    message = re.sub(r"\. Expected is (one of )?\([^)]*\)", "", message)
    return message.strip().rstrip(".")


def explain(exc: ValidationException, tree, fallback: tuple[int | None, str | None] = (None, None)) -> Located:
    """(line, element id, message) of a ValidationException of the parser or the XSD, raised on this file."""
    message = str(exc.args[0]) if exc.args else ""
    if exc.line_number:  # the XSD's: a line, no element
        line = exc.line_number
        node = element_at(tree, line)
        element = node.get("id") or etree.QName(node).localname if node is not None else None
    else:
        found = tree.xpath("//*[@id=$id]", id=exc.id) if exc.id else []
        node = found[0] if found else None
        line, element = (node.sourceline, exc.id) if node is not None else fallback
    for pattern, rewrite in _SCHEMA:
        if m := re.search(pattern, message):
            return line, element, rewrite(m, node, tree)
    for pattern, rewrite in _PARSER:
        if m := re.search(pattern, message):
            said = rewrite if isinstance(rewrite, str) else rewrite(m, node, tree, exc)
            return said if isinstance(said, tuple) else (line, element, said)
    if re.match(r"^\w+(Error|Exception)\(", message):  # the parser's own failure, wrapped with the element
        return line, element, f"{_subject(node)} cannot be read by the engine ({message}): check it in the modeller"
    return line, element, _tidy(message)


def check_schema(label: str, tree, schema: etree.XMLSchema) -> None:
    """The file checked against its XSD, the first error explained (SpiffWorkflow's BpmnValidator reports the last
    one, which may be far from the cause)."""
    try:
        schema.assertValid(tree)
    except etree.DocumentInvalid as exc:
        first = exc.error_log[0]
        located = explain(ValidationException(first.message, line_number=first.line), tree)
        raise ProcessDefinitionError(label, *located) from None


@contextmanager
def parser_errors(label: str, tree, fallback: tuple[int | None, str | None] = (None, None)) -> Iterator[None]:
    """Turn what SpiffWorkflow's parser raises on this file into a ProcessDefinitionError: its ValidationException
    explained, and anything else (the parser crashes on some broken files) said without a traceback."""
    try:
        yield
    except ValidationException as exc:
        raise ProcessDefinitionError(label, *explain(exc, tree, fallback)) from None
    except Exception as exc:  # noqa: BLE001 - a parser crash is a problem of the file, reported like the others
        message = (
            f"the engine's parser cannot read this file ({type(exc).__name__}: {exc}): check the diagram in the "
            "modeller, and report it with the file if the modeller shows nothing wrong"
        )
        raise ProcessDefinitionError(label, *fallback, message) from None
