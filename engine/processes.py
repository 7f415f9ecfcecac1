"""Load and validate processes/, parse them with CamundaParser, store each version once by content hash."""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.camunda.parser import CamundaParser
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .errors import ProcessDefinitionError, ProcessesInvalid
from .forms import SUPPORTED_CONSTRAINTS, SUPPORTED_TYPES
from .models import ProcessVersion
from .roles import lane_roles
from .scripting import HELPERS, ScriptRefused, compile_expression, compile_script

PROCESSES_DIR = Path(__file__).resolve().parent.parent / "processes"

_VALIDATOR: BpmnValidator | None = None


def validator() -> BpmnValidator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


@dataclass(eq=False)
class LoadedProcess:
    process_id: str
    name: str
    files: dict[str, str]  # file name -> XML text
    content_hash: str
    spec: object
    subprocess_specs: dict


def _line_of(tree, element_id: str | None) -> int | None:
    if not element_id:
        return None
    found = tree.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def _id_at_line(tree, line: int | None) -> str | None:
    if not line:
        return None
    for element in tree.iter():
        if element.sourceline == line and isinstance(element.tag, str):
            return element.get("id") or etree.QName(element).localname
    return None


def _parse_text(text: str, label: str):
    try:
        return etree.fromstring(text.encode())  # noqa: S320 - analysts' files, no entities resolved
    except etree.XMLSyntaxError as exc:
        raise ProcessDefinitionError(label, exc.lineno, None, f"the file is not well-formed XML: {exc.msg}") from None


def parse_bpmn(text: str, label: str, operations: set[str]) -> list[LoadedProcess]:
    """Parse and check one BPMN file; raise ProcessDefinitionError naming the file, line and element."""
    root = _parse_text(text, label)
    tree = root.getroottree()
    parser = CamundaParser(validator=validator())
    try:
        parser.add_bpmn_xml(tree, filename=label)
    except ValidationException as exc:
        line = exc.line_number or _line_of(tree, exc.id)
        element = exc.id or _id_at_line(tree, line)
        raise ProcessDefinitionError(label, line, element, str(exc).split("\n")[0]) from None
    loaded = []
    digest = hashlib.sha256(text.encode()).hexdigest()
    for process_id in parser.get_process_ids():
        try:
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            raise ProcessDefinitionError(label, _line_of(tree, exc.id), exc.id, str(exc).split("\n")[0]) from None
        _check_process(tree, label, process_id, spec, operations)
        loaded.append(
            LoadedProcess(process_id, spec.description or process_id, {label: text}, digest, spec, subprocess_specs)
        )
    return loaded


def _check_process(tree, label: str, process_id: str, spec, operations: set[str]) -> None:
    process = tree.xpath("//bpmn:process[@id=$id]", id=process_id, namespaces={"bpmn": _BPMN_NS})
    if process and process[0].get("isExecutable") != "true":
        raise ProcessDefinitionError(label, process[0].sourceline, process_id, "the process must be marked executable")
    for task_spec in spec.task_specs.values():
        try:
            _check_task(task_spec, operations)
        except ValueError as exc:
            raise ProcessDefinitionError(label, _line_of(tree, task_spec.name), task_spec.name, str(exc)) from None


_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"


def _check_task(task_spec, operations: set[str]) -> None:
    if getattr(task_spec, "manual", False):
        lane_roles(task_spec.lane)
        form = getattr(task_spec, "form", None)
        if form is None:
            raise ValueError("the user task has no form: add camunda:formData with its fields")
        for field in form.fields:
            if field.type not in SUPPORTED_TYPES:
                raise ValueError(f"form field '{field.id}' has type '{field.type}'; use one of {SUPPORTED_TYPES}")
            for rule in field.validation:
                if rule.name not in SUPPORTED_CONSTRAINTS:
                    raise ValueError(f"form field '{field.id}' has an unknown constraint '{rule.name}'")
                if rule.name == "required_if":
                    _compile(compile_expression, rule.config, f"required_if of '{field.id}'")
    if isinstance(task_spec, ScriptTask):
        _compile(compile_script, task_spec.script, "the script")
        _check_calls(task_spec.script, operations)
    if isinstance(task_spec, ExclusiveGateway):
        for condition, target in getattr(task_spec, "cond_task_specs", []) or []:
            if condition is not None:
                _compile(
                    compile_expression,
                    getattr(condition, "args", [condition])[0],
                    f"the condition towards '{target}'",
                )


def _compile(compiler, source: str, what: str) -> None:
    try:
        compiler(source or "")
    except (ScriptRefused, SyntaxError) as exc:
        raise ValueError(f"{what} is not allowed or does not compile: {exc}") from None


def _check_calls(script: str, operations: set[str]) -> None:
    known = operations | set(HELPERS) | {"str", "int", "bool", "list", "dict", "tuple", "range", "isinstance"}
    for node in ast.walk(ast.parse(script or "")):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in known:
            raise ValueError(f"the script calls '{node.func.id}', which is not an operation of the engine")


def load_directory(directory: Path, operations: set[str]) -> dict[str, LoadedProcess]:
    """Every process of every .bpmn file in the folder; raises ProcessesInvalid listing every broken file."""
    processes: dict[str, LoadedProcess] = {}
    problems: list[ProcessDefinitionError] = []
    for path in sorted(directory.glob("*.bpmn")):
        try:
            for loaded in parse_bpmn(path.read_text(encoding="utf-8"), str(path), operations):
                processes[loaded.process_id] = loaded
        except ProcessDefinitionError as exc:
            problems.append(exc)
    if problems:
        raise ProcessesInvalid(problems)
    return processes


def store_version(session: Session, loaded: LoadedProcess, spec_json: str, deployed_by: str) -> ProcessVersion:
    """Store a process version once per content hash; safe when two workers start together."""
    query = select(ProcessVersion).where(
        ProcessVersion.process_id == loaded.process_id, ProcessVersion.content_hash == loaded.content_hash
    )
    existing = session.scalar(query)
    if existing is not None:
        return existing
    latest = session.scalar(
        select(func.max(ProcessVersion.version)).where(ProcessVersion.process_id == loaded.process_id)
    )
    version = ProcessVersion(
        process_id=loaded.process_id,
        name=loaded.name,
        version=(latest or 0) + 1,
        content_hash=loaded.content_hash,
        source_files=json.dumps(loaded.files),
        spec_json=spec_json,
        deployed_by=deployed_by,
    )
    try:
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        return session.scalars(query).one()
    return version


def latest_version(session: Session, process_id: str) -> ProcessVersion | None:
    return session.scalar(
        select(ProcessVersion).where(ProcessVersion.process_id == process_id).order_by(ProcessVersion.version.desc())
    )
