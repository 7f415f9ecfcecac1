"""Read and validate the files of processes/ (or an upload), and parse them with CamundaParser.

Parsing and validation only: storing versions and recording deployments is usecases.deployments's job.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

from SpiffWorkflow.bpmn.parser import BpmnValidator
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask

from engine.accounts.roles import lane_roles
from engine.errors import ProcessDefinitionError, ProcessesInvalid
from engine.vocabulary import Screen

from . import blockers, checks, prechecks
from .catch_events import CatchEvent, ProductParser, catch_events
from .dmn_checks import check_dmn, check_unique_decisions
from .forms import SUPPORTED_CONSTRAINTS, SUPPORTED_TYPES, FormDef, describe_form
from .identity import canonical_text, content_hash  # noqa: F401 - also imported from here
from .parser_messages import check_schema, parser_errors
from .scripting import HELPERS, ScriptRefused, compile_expression, compile_script
from .sources import MAX_FILE_BYTES, Source, line_of, read, read_directory  # noqa: F401 - also imported from here
from .timer_checks import check_timer

PROCESSES_DIR = Path(__file__).resolve().parents[2] / "processes"

_VALIDATOR: BpmnValidator | None = None


def validator() -> BpmnValidator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = BpmnValidator()
    return _VALIDATOR


@dataclass(eq=False)
class LoadedProcess:
    """A parsed process: its spec and the files it came from (kept by the runtime's cache per version)."""

    process_id: str
    name: str
    files: dict[str, str]  # file name -> XML text
    content_hash: str
    spec: object
    subprocess_specs: dict
    first_task_name: str = field(default="", repr=False)  # the user task a new instance waits on first
    # The first business rule task calling cancellation_blockers ("" when the process checks no blockers).
    blockers_task_name: str = field(default="", repr=False)
    # step id -> the events with a form a person may send to it while it waits (e.g. Withdraw Request)
    catch_events: dict[str, list[CatchEvent]] = field(default_factory=dict, repr=False)
    _forms: dict[str, FormDef] = field(default_factory=dict, repr=False)

    def catch_event(self, element_id: str) -> CatchEvent | None:
        return next((e for events in self.catch_events.values() for e in events if e.element_id == element_id), None)

    def task_spec(self, element_id: str):
        return self.spec.task_specs[element_id]

    def form(self, element_id: str) -> FormDef:
        """The form of a user task, read from the spec once."""
        if element_id not in self._forms:
            self._forms[element_id] = describe_form(self.spec.task_specs[element_id])
        return self._forms[element_id]

    def user_task_specs(self) -> list:
        return [s for s in self.spec.task_specs.values() if getattr(s, "manual", False)]


def parse_sources(sources: list[Source], operations: set[str], *, deployed: bool = False) -> dict[str, LoadedProcess]:
    """Every process of the BPMN sources, each with the DMN sources it uses; ProcessesInvalid lists problems.

    deployed: the files of a stored version, checked when they were deployed. The checks made before parsing are
    not made again, so that a version instances run on still loads when a later release adds a refusal.
    """
    problems: list[ProcessDefinitionError] = []
    dmns: list[tuple[Source, object, dict]] = []
    bpmns: list[tuple[Source, object]] = []
    broken_dmns: list[str] = []
    for source in sources:
        try:
            root = read(source)
            if source.is_dmn:
                decisions = check_dmn(source, root)
                check_unique_decisions(source, root, decisions, dmns)
                dmns.append((source, root, decisions))
            else:
                bpmns.append((source, root))
        except ProcessDefinitionError as exc:
            problems.append(exc)
            broken_dmns += [source.name] if source.is_dmn else []
    processes: dict[str, LoadedProcess] = {}
    for source, root in bpmns:
        try:
            for loaded in _parse_bpmn(source, root, dmns, broken_dmns, operations, deployed):
                _check_unique_process(source, root, loaded.process_id, processes)
                processes[loaded.process_id] = loaded
        except ProcessDefinitionError as exc:
            problems.append(exc)
        except ProcessesInvalid as exc:
            problems += exc.problems
    if problems:
        raise ProcessesInvalid(problems)
    return processes


def _check_unique_process(source: Source, root, process_id: str, processes: dict[str, LoadedProcess]) -> None:
    """Two files with one process id would silently shadow each other (a copy saved beside the original)."""
    if process_id in processes:
        other = next(name for name in processes[process_id].files if not name.lower().endswith(".dmn"))
        message = f"the process id is already used in {other}: give this process another id, or remove the copy"
        raise ProcessDefinitionError(source.label, line_of(root.getroottree(), process_id), process_id, message)


def _parse_bpmn(source: Source, root, dmns, broken_dmns, operations: set[str], deployed: bool) -> list[LoadedProcess]:
    tree = root.getroottree()
    validator().preprocess(tree)
    check_schema(source.label, tree, validator().validator)
    decisions = {d: (src, io) for src, _root, found in dmns for d, io in found.items()}
    if deployed:
        process_ids = prechecks.executable_ids(root)
    else:
        process_ids, problems = prechecks.bpmn_problems(root, set(decisions), broken_dmns)
        if problems:
            raise ProcessesInvalid([ProcessDefinitionError(source.label, *problem) for problem in problems])
    parser = ProductParser()  # no validator: the files were checked against the XSDs above and in check_dmn
    for dmn_source, dmn_root, _decisions in dmns:
        parser.add_dmn_xml(dmn_root, filename=dmn_source.name)
    with parser_errors(source.label, tree, (root.sourceline, None)):
        parser.add_bpmn_xml(tree, filename=source.label)
    loaded = []
    for process_id in process_ids:
        with parser_errors(source.label, tree, (line_of(tree, process_id), process_id)):
            spec = parser.get_spec(process_id)
            subprocess_specs = parser.get_subprocess_specs(process_id)
        _check_process(tree, source.label, spec, operations)
        used = _check_xml(tree, source.label, process_id, decisions)
        process = tree.xpath("//bpmn:process[@id=$id]", id=process_id, namespaces=checks.NS)[0]
        try:
            blockers_task = blockers.checked_task(process, spec)
        except blockers.TableFailed as exc:
            raise ProcessDefinitionError(source.label, line_of(tree, exc.element), exc.element, exc.message) from None
        try:
            first_task = first_user_task_name(spec)
        except ValueError as exc:
            raise ProcessDefinitionError(source.label, line_of(tree, process_id), process_id, str(exc)) from None
        events = _check_events(tree, source.label, process, spec)
        files = {source.name: source.text} | {s.name: s.text for s in used}
        digest = content_hash(files)
        name = spec.description or process_id
        loaded.append(
            LoadedProcess(process_id, name, files, digest, spec, subprocess_specs, first_task, blockers_task, events)
        )
    return loaded


def _check_xml(tree, label: str, process_id: str, decisions: dict) -> list[Source]:
    """Reachability, and the DMN tables the process uses (each reads what earlier steps set); returns those files."""
    process = tree.xpath("//bpmn:process[@id=$id]", id=process_id, namespaces=checks.NS)[0]
    problems = checks.unreachable(process)
    used: list[Source] = []
    outputs = {d: io[1] for d, (_src, io) in decisions.items()}
    for task in process.xpath(".//bpmn:businessRuleTask", namespaces=checks.NS):
        ref = task.get(f"{{{checks.CAMUNDA}}}decisionRef")
        if ref not in decisions:  # said before parsing (prechecks.rule_tasks)
            continue
        dmn_source, (inputs, _outputs) = decisions[ref]
        if dmn_source not in used:
            used.append(dmn_source)
        missing = sorted(inputs - checks.produced_before(process, task.get("id"), outputs))
        if missing:
            problems.append(
                (task.get("id"), f"the decision table '{ref}' reads {', '.join(missing)}, which no earlier step sets")
            )
    for element_id, message in problems:
        raise ProcessDefinitionError(label, line_of(tree, element_id), element_id, message)
    return used


def parse_files(files: dict[str, str], operations: set[str]) -> dict[str, LoadedProcess]:
    """Parse a stored version's files (its BPMN file and the DMN files it uses)."""
    return parse_sources([Source(name, name, text) for name, text in files.items()], operations, deployed=True)


def _check_process(tree, label: str, spec, operations: set[str]) -> None:
    for task_spec in spec.task_specs.values():
        try:
            _check_task(task_spec, operations)
        except ValueError as exc:
            raise ProcessDefinitionError(label, line_of(tree, task_spec.name), task_spec.name, str(exc)) from None


def _check_task(task_spec, operations: set[str]) -> None:
    check_timer(task_spec)
    if getattr(task_spec, "manual", False):
        _check_user_task(task_spec)
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


def _check_user_task(task_spec) -> None:
    lane_roles(task_spec.lane)
    if (getattr(task_spec, "extensions", None) or {}).get("invoice_status", "open") not in ("open", "cancelled"):
        raise ValueError("the task's invoice_status property (which invoices the process starts on): open or cancelled")
    screen = screen_of(task_spec)
    if screen not in set(Screen):
        raise ValueError(f"the task's screen property is '{screen}'; use one of {', '.join(Screen)}")
    form = getattr(task_spec, "form", None)
    if form is None:
        raise ValueError("the user task has no form: add camunda:formData with its fields")
    _check_form(form)


def _check_events(tree, label: str, process, spec) -> dict:
    """The message boundary events with a form (catch_events), their forms checked like a user task's."""
    try:
        found = catch_events(process, spec)
        for events in found.values():
            for event in events:
                _check_form(spec.task_specs[event.element_id].form)
    except ValueError as exc:
        bad = next((n.get("id") for n in process.xpath(".//bpmn:boundaryEvent", namespaces=checks.NS)), None)
        raise ProcessDefinitionError(label, line_of(tree, bad), bad, str(exc)) from None
    return found


def _check_form(form) -> None:
    for form_field in form.fields:
        if form_field.type not in SUPPORTED_TYPES:
            raise ValueError(f"form field '{form_field.id}' has type '{form_field.type}'; use one of {SUPPORTED_TYPES}")
        for rule in form_field.validation:
            if rule.name not in SUPPORTED_CONSTRAINTS:
                raise ValueError(f"form field '{form_field.id}' has an unknown constraint '{rule.name}'")
            if rule.name == "required_if":
                _compile(compile_expression, rule.config, f"required_if of '{form_field.id}'")


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


def _is_gateway(task_spec) -> bool:
    return any("Gateway" in kind.__name__ for kind in type(task_spec).__mro__)


def first_user_task_name(spec) -> str:
    """The one user task a new instance waits on first, read from the spec (no diagram code runs).

    From the start event the path may pass events and script or rule tasks, but no gateway, and must reach
    exactly one user task: its form is what starts a cancellation. ValueError says what is wrong.
    """
    found, seen, queue = [], set(), list(spec.start.outputs)
    while queue:
        node = queue.pop(0)
        if node.name in seen:
            continue
        seen.add(node.name)
        if getattr(node, "manual", False):
            found.append(node.name)
        elif _is_gateway(node):
            raise ValueError(
                f"the start event reaches the gateway '{node.name}' before a user task: a cancellation must open "
                "on one user task, so put the gateway after it"
            )
        else:
            queue.extend(node.outputs)
    if len(found) != 1:
        reached = ", ".join(sorted(found)) or "none"
        raise ValueError(f"the start event must reach exactly one user task first (it reaches: {reached})")
    return found[0]


def screen_of(task_spec) -> Screen | str:
    """Where a user task is done: the diagram's `screen` property, else the invoice screen."""
    return (getattr(task_spec, "extensions", None) or {}).get("screen", Screen.INVOICE)


def load_directory(directory: Path, operations: set[str]) -> dict[str, LoadedProcess]:
    """Every process of the folder's .bpmn files with the .dmn files they use; ProcessesInvalid lists problems."""
    sources, unreadable = read_directory(directory)
    try:
        processes = parse_sources(sources, operations)
    except ProcessesInvalid as exc:
        raise ProcessesInvalid(unreadable + exc.problems) from None
    if unreadable:
        raise ProcessesInvalid(unreadable)
    return processes
