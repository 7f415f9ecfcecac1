"""The workflow runtime: one object, built at start-up, that starts, loads, runs and saves workflows.

It holds what SpiffWorkflow's docs name as the ways to customise it (as spiff-example-cli's engine does):
the serializer, the script environment (RestrictedPython, with the domain operations as its functions) and
the parsed specs of stored versions. Operations are bound to one user action by giving that action's
workflow its own script environment, so nothing global changes while a workflow runs.

An instance's state is stored without its spec: the spec belongs to its process version, stored once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any, Protocol
from uuid import UUID

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from .limits import DEFAULT_TIME_LIMIT, ScriptLimitExceeded
from .parsing import LoadedProcess, parse_files
from .scripting import RestrictedEnvironment

_log = logging.getLogger(__name__)

# A domain operation a script task may call by name: function(action_context, *args, **kwargs).
Operation = Callable[..., Any]


class ActionScope(Protocol):
    """What the runtime needs of a user action: the values a script task set are reported to it."""

    def script_values(self, task_name: str, values: dict) -> None: ...


_PLAIN = (str, int, float, bool, Decimal, type(None))


class RecordingScriptEngine(PythonScriptEngine):
    """Runs scripts in the restricted environment and hands the values a script task set to the action,
    so the history shows them (an analyst's `priority = "high"` appears without code)."""

    def __init__(self, environment: RestrictedEnvironment, scope: ActionScope | None):
        super().__init__(environment=environment)
        self.scope = scope

    def evaluate(self, task, expression, external_context=None):
        try:
            return super().evaluate(task, expression, external_context)
        except WorkflowTaskException as exc:
            raise _named(exc, task, "condition") from None

    def execute(self, task, script, external_context=None):
        before = dict(task.data) if self.scope is not None else {}
        try:
            result = super().execute(task, script, external_context)
        except WorkflowTaskException as exc:
            raise _named(exc, task, "script") from None
        if self.scope is not None:
            changed = {
                k: v
                for k, v in task.data.items()
                if isinstance(v, _PLAIN) and not k.startswith("_") and (k not in before or before[k] != v)
            }
            if changed:
                self.scope.script_values(task.task_spec.bpmn_name or task.task_spec.name, changed)
        return result


def _named(exc: WorkflowTaskException, task, what: str) -> WorkflowTaskException:
    """A budget overrun says which step's code it was: "the script of 'Record request' ran longer than 1 s"."""
    cause = exc.__cause__ or exc.__context__  # SpiffWorkflow raises its wrapper inside the `except`
    if not isinstance(cause, ScriptLimitExceeded):
        return exc
    name = task.task_spec.bpmn_name or task.task_spec.name
    text = str(cause) if str(cause).startswith("ran longer") else f"was stopped: {cause}"
    return WorkflowTaskException(f"{type(cause).__name__}: the {what} of '{name}' {text}", task=task, exception=cause)


def _outside_an_action(name: str) -> Operation:
    def refuse(*_args, **_kwargs):
        raise RuntimeError(f"operation {name} called outside a user action")

    refuse.__name__ = name
    return refuse


def _does_nothing(*_args, **_kwargs) -> None:
    return None


class InstanceStateConverter(BpmnWorkflowConverter):
    """A workflow's own state, without its spec and subprocess specs: those belong to its process version, stored
    once when it is deployed and restored once per process (WorkflowRuntime.version_spec). Loading puts the
    restored spec objects where the serialized spec would be (the registry hands objects back unchanged), so no
    action converts or parses the spec again."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct


def _build_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure({**CAMUNDA_CONFIG, BpmnWorkflow: InstanceStateConverter})
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


class WorkflowRuntime:
    """Serializer, parsed-spec cache and named operations; one per app or CLI process."""

    CACHED_VERSIONS = 256

    def __init__(self, operations: Mapping[str, Operation], script_time_limit: float = DEFAULT_TIME_LIMIT):
        self.operations: Mapping[str, Operation] = MappingProxyType(dict(operations))
        self.script_time_limit = script_time_limit
        self.serializer = _build_serializer()
        self._code_cache: dict = {}
        self._parsed: dict[tuple, LoadedProcess] = {}
        self._restored: dict[tuple, tuple] = {}
        self._detached = self.script_engine(None)

    @property
    def operation_names(self) -> frozenset[str]:
        return frozenset(self.operations)

    def script_engine(self, scope: ActionScope | None) -> RecordingScriptEngine:
        """A script engine whose operations act for `scope` (None: reads only, operations refuse to run)."""
        if scope is None:
            functions = {name: _outside_an_action(name) for name in self.operations}
        else:
            functions = {name: partial(fn, scope) for name, fn in self.operations.items()}
        environment = RestrictedEnvironment(
            functions, self._code_cache, self.script_time_limit, per_action=scope is not None
        )
        return RecordingScriptEngine(environment, scope)

    # ---- specs ------------------------------------------------------------------------------------------

    def spec_of(self, version) -> LoadedProcess:
        """The parsed spec of a stored process version (its forms and tasks), cached per version and content.

        Only a cache miss reads the version's files, so callers may load a version without them.
        """
        key = (version.id, version.process_id, version.content_hash)
        loaded = self._parsed.get(key)
        if loaded is None:
            if len(self._parsed) >= self.CACHED_VERSIONS:
                self._parsed.clear()
            loaded = self._parsed[key] = parse_files(version.files, self.operation_names)[version.process_id]
        return loaded

    def spec_json_of(self, loaded: LoadedProcess) -> str:
        """The serialized spec and subprocess specs of a process, stored once with its version."""
        to_dict = self.serializer.to_dict
        subprocess_specs = {name: to_dict(spec) for name, spec in loaded.subprocess_specs.items()}
        return json.dumps({"spec": to_dict(loaded.spec), "subprocess_specs": subprocess_specs})

    def version_spec(self, version) -> tuple[Any, dict]:
        """The spec and subprocess specs a version's instances run on, restored from what was stored when it was
        deployed; cached per version and content, so only a cache miss reads the stored spec."""
        key = (version.id, version.content_hash)
        restored = self._restored.get(key)
        if restored is None:
            if len(self._restored) >= self.CACHED_VERSIONS:
                self._restored.clear()
            stored = json.loads(version.spec_json)
            subprocess_specs = {k: self.serializer.from_dict(v) for k, v in stored["subprocess_specs"].items()}
            restored = self._restored[key] = (self.serializer.from_dict(stored["spec"]), subprocess_specs)
        return restored

    def first_user_task(self, loaded: LoadedProcess):
        """The user task a new instance of this version waits on first: its form starts the cancellation.

        Read from the spec when it was parsed: reads never run diagram code.
        """
        return loaded.spec.task_specs[loaded.first_task_name]

    # ---- workflows --------------------------------------------------------------------------------------

    def new_workflow(self, loaded: LoadedProcess, data: dict[str, Any], scope: ActionScope | None) -> BpmnWorkflow:
        """A new workflow whose start task carries `data` (what every instance starts with)."""
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine(scope))
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
        return workflow

    def load_workflow(self, state_json: str, version, scope: ActionScope | None = None) -> BpmnWorkflow:
        """A stored workflow of a process version; with a scope its scripts act for that user action, without one
        it only reads. Only the instance's own state is parsed: the version's spec objects are reused."""
        state = json.loads(state_json)
        if state.get(self.serializer.VERSION_KEY) != self.serializer.VERSION:  # an older format: migrate it whole
            state.update(json.loads(version.spec_json))
            self.serializer.migrate(state)
        else:
            del state[self.serializer.VERSION_KEY]
            state["spec"], state["subprocess_specs"] = self.version_spec(version)
        workflow = self.serializer.from_dict(state)
        workflow.script_engine = self.script_engine(scope) if scope is not None else self._detached
        return workflow

    def evaluate_quietly(self, expression: str, data: dict[str, Any]) -> Any:
        """A diagram expression on `data`, with operations that do nothing (for foreseeing a gateway's way)."""
        functions = {name: _does_nothing for name in self.operations}
        environment = RestrictedEnvironment(functions, self._code_cache, self.script_time_limit, per_action=True)
        return environment.evaluate(expression, data)

    def preview(self, state_json: str, version, task_id: str, choices: list[dict[str, Any]]) -> list[list]:
        """For each set of values: the user tasks that would be ready next if the task were completed with them.

        Runs on copies of the stored workflow whose operations do nothing (each with the time budget of one user
        action); a copy that fails, or does not get that far, gives no tasks. Nothing is saved.
        """
        functions = {name: _does_nothing for name in self.operations}
        found = []
        for values in choices:
            workflow = self.load_workflow(state_json, version)
            environment = RestrictedEnvironment(functions, self._code_cache, self.script_time_limit, per_action=True)
            workflow.script_engine = RecordingScriptEngine(environment, None)
            try:
                task = workflow.get_task_from_id(UUID(task_id))
                task.set_data(**values)
                task.run()
                workflow.do_engine_steps()
            except Exception as exc:  # noqa: BLE001 - a preview that fails predicts nothing; the real step tells
                _log.info("preview of task %s stopped: %s", task_id, type(exc).__name__)
                found.append([])
                continue
            found.append([t.task_spec for t in ready_user_tasks(workflow)])
        return found

    def dump_workflow(self, workflow: BpmnWorkflow) -> str:
        """The workflow's own state as JSON (InstanceStateConverter leaves the spec to the version)."""
        return self.serializer.serialize_json(workflow)


def ready_user_tasks(workflow: BpmnWorkflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)


def runtime_of(session) -> WorkflowRuntime:
    """The runtime of the app or CLI that opened this session (engine.db.make_session_factory puts it there)."""
    runtime = session.info.get("runtime")
    if runtime is None:
        raise RuntimeError("this session has no workflow runtime: build the session factory with one")
    return runtime
