"""Start, load, run and save workflows: the serializer, the script engine and the named operations.

The parser, serializer and script engine are built once here and shared (as in spiff-example-cli's engine).
An instance's state is stored without its spec: the spec belongs to its process version, stored once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from .processes import LoadedProcess, parse_files
from .scripting import RestrictedEnvironment


def _build_serializer() -> BpmnWorkflowSerializer:
    registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return BpmnWorkflowSerializer(registry)


SERIALIZER = _build_serializer()

# Named operations the diagrams call from script tasks: name -> function(context, **kwargs).
OPERATIONS: dict[str, Callable[..., Any]] = {}
_current_operation_context: ContextVar[Any] = ContextVar("operation_context")


def operation(name: str):
    """Register a domain operation that a BPMN script task may call by name."""

    def register(fn):
        OPERATIONS[name] = fn
        return fn

    return register


def _bound(name: str) -> Callable[..., Any]:
    def call(*args, **kwargs):
        context = _current_operation_context.get(None)
        if context is None:
            raise RuntimeError(f"operation {name} called outside a user action")
        return OPERATIONS[name](context, *args, **kwargs)

    call.__name__ = name
    return call


class _BoundOperations(Mapping[str, Callable[..., Any]]):
    """The operations as script functions, read live so an operation registered later is callable too."""

    def __getitem__(self, name: str) -> Callable[..., Any]:
        if name not in OPERATIONS:
            raise KeyError(name)
        return _bound(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(OPERATIONS))

    def __len__(self) -> int:
        return len(OPERATIONS)


_PLAIN = (str, int, float, bool, Decimal, type(None))


class RecordingScriptEngine(PythonScriptEngine):
    """Runs scripts in the restricted environment and hands the values a script task set to the action,
    so the history shows them (an analyst's `priority = "high"` appears without code)."""

    def execute(self, task, script, external_context=None):
        before = dict(task.data)
        result = super().execute(task, script, external_context)
        context = _current_operation_context.get(None)
        if context is not None and hasattr(context, "script_values"):
            changed = {
                k: v
                for k, v in task.data.items()
                if isinstance(v, _PLAIN) and not k.startswith("_") and (k not in before or before[k] != v)
            }
            if changed:
                context.script_values(task.task_spec.bpmn_name or task.task_spec.name, changed)
        return result


@lru_cache(maxsize=1)
def script_engine():
    from . import operations  # noqa: F401 - registers the operations

    return RecordingScriptEngine(environment=RestrictedEnvironment(_BoundOperations()))


def operation_names() -> set[str]:
    from . import operations  # noqa: F401

    return set(OPERATIONS)


@contextmanager
def operations_bound_to(context: Any) -> Iterator[None]:
    """Operations called while the workflow runs act on this user action's session, invoice and actor."""
    token = _current_operation_context.set(context)
    try:
        yield
    finally:
        _current_operation_context.reset(token)


def spec_json_of(loaded: LoadedProcess) -> str:
    """The serialized spec and subprocess specs of a process, stored once with its version."""
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs)
    whole = json.loads(SERIALIZER.serialize_json(workflow))
    return json.dumps({"spec": whole["spec"], "subprocess_specs": whole["subprocess_specs"]})


_PARSED: dict[tuple, LoadedProcess] = {}


def spec_of(version) -> LoadedProcess:
    """The parsed spec of a stored process version (its forms and tasks), cached per version and content.

    Only a cache miss reads the version's files, so callers may load a version without them.
    """
    key = (version.id, version.process_id, version.content_hash)
    if key not in _PARSED:
        if len(_PARSED) > 256:
            _PARSED.clear()
        _PARSED[key] = parse_files(json.loads(version.source_files), operation_names())[version.process_id]
    return _PARSED[key]


def new_workflow(loaded: LoadedProcess, data: dict[str, Any]) -> BpmnWorkflow:
    workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=script_engine())
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    return workflow


def load_workflow(state_json: str, spec_json: str) -> BpmnWorkflow:
    state = json.loads(state_json)
    state.update(json.loads(spec_json))
    workflow = SERIALIZER.deserialize_json(json.dumps(state))
    workflow.script_engine = script_engine()
    return workflow


def dump_workflow(workflow: BpmnWorkflow) -> str:
    state = json.loads(SERIALIZER.serialize_json(workflow))
    state.pop("spec")
    state.pop("subprocess_specs")
    return json.dumps(state)


def ready_user_tasks(workflow: BpmnWorkflow) -> list:
    return workflow.get_tasks(state=TaskState.READY, manual=True)
