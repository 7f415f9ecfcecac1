"""The analysts' files as Sources (a file of processes/ or an upload): read as UTF-8 text, parsed as XML, checked
to be the kind of diagram their name says; and where an element of a parsed file is (its line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from engine.errors import ProcessDefinitionError

from .checks import BPMN

MAX_FILE_BYTES = 1_000_000
_DMN_NAMESPACES = ("https://www.omg.org/spec/DMN/", "http://www.omg.org/spec/DMN/")


@dataclass(frozen=True)
class Source:
    name: str  # the file name stored with a version
    label: str  # how problems name the file (its path)
    text: str

    @property
    def is_dmn(self) -> bool:
        return self.name.lower().endswith(".dmn")


def line_of(tree, element_id: str | None) -> int | None:
    """The line of the first element with this id."""
    if not element_id:
        return None
    found = tree.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def element_at(tree, line: int | None):
    """The first element that starts on this line."""
    if not line:
        return None
    return next((e for e in tree.iter() if isinstance(e.tag, str) and e.sourceline == line), None)


def id_at_line(tree, line: int | None) -> str | None:
    element = element_at(tree, line)
    return None if element is None else element.get("id") or etree.QName(element).localname


def _parse_text(text: str, label: str):
    if len(text.encode()) > MAX_FILE_BYTES:
        raise ProcessDefinitionError(label, None, None, "the file is over 1 MB: is it really a diagram?")
    try:
        return etree.fromstring(text.encode())  # noqa: S320 - analysts' files, no entities resolved
    except etree.XMLSyntaxError as exc:
        start = text.lstrip("\ufeff \t\r\n")
        if start[:15].lower().startswith(("<!doctype html", "<html")):
            message = (
                "the file is a web page (HTML), not a diagram: download the file itself (on GitHub: Raw or "
                "Download), or save the diagram from the modeller"
            )
            line = text[: len(text) - len(start)].count("\n") + 1
            raise ProcessDefinitionError(label, line, None, message) from None
        if not start.startswith("<"):
            begins = start.splitlines()[0][:40] if start else ""
            message = (
                f"the file is not well-formed XML: it is not XML at all (it begins '{begins}'): save the diagram "
                "from the modeller (Camunda Modeler or bpmn.io) and use the file it writes"
            )
        else:
            message = (
                f"the file is not well-formed XML: {exc.msg}: correct it there, or save it from the modeller again"
            )
        raise ProcessDefinitionError(label, exc.lineno, None, message) from None


def _kind(root) -> str | None:
    qname = etree.QName(root)
    if qname.localname != "definitions":
        return None
    if qname.namespace == BPMN:
        return "bpmn"
    if qname.namespace and qname.namespace.startswith(_DMN_NAMESPACES):
        return "dmn"
    return None


def read(source: Source):
    """The file's root element; ProcessDefinitionError when it is not XML or not the diagram its name says."""
    root = _parse_text(source.text, source.label)
    expected = "dmn" if source.is_dmn else "bpmn"
    if _kind(root) != expected:
        what = {"bpmn": "a BPMN 2.0", "dmn": "a DMN"}[expected]
        raise ProcessDefinitionError(
            source.label, root.sourceline, None, f"the file is not {what} file (its root is <{root.tag}>)"
        )
    return root


def read_directory(directory: Path) -> tuple[list[Source], list[ProcessDefinitionError]]:
    """The folder's .bpmn and .dmn files, and a problem for each one that cannot be read as UTF-8 text (and for a
    folder that is missing or holds no .bpmn file: it would deploy no process)."""
    if not directory.is_dir():
        message = "the folder does not exist: give the folder that holds the .bpmn and .dmn files (e.g. processes)"
        return [], [ProcessDefinitionError(str(directory), None, None, message)]
    sources, problems = [], []
    paths = sorted([*directory.glob("*.bpmn"), *directory.glob("*.dmn")])
    if not any(p.suffix == ".bpmn" for p in paths):
        message = "the folder has no .bpmn file, so no process: save the process diagrams from the modeller here"
        problems.append(ProcessDefinitionError(str(directory), None, None, message))
    for path in paths:
        try:
            sources.append(Source(path.name, str(path), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError as exc:
            message = f"the file is not UTF-8 text (byte {exc.start}): save it from the modeller as UTF-8 XML"
            problems.append(ProcessDefinitionError(str(path), None, None, message))
        except OSError as exc:
            problems.append(ProcessDefinitionError(str(path), None, None, f"the file cannot be read: {exc.strerror}"))
    return sources, problems
