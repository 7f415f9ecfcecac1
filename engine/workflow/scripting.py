"""The restricted script environment in which BPMN conditions and scripts run (RestrictedPython).

Scripts and gateway conditions in `processes/` are Python. SpiffWorkflow's default environment runs them with
full builtins, so we compile them with RestrictedPython's defined safe subset instead: no imports, no
underscore attributes, guarded attribute/item access, and only the helpers and named operations we expose.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import ModuleType
from typing import Any

from RestrictedPython import (
    Eval,
    Guards,
    compile_restricted_eval,
    compile_restricted_exec,
    limited_builtins,
    safe_builtins,
)
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment

from . import limits

HELPERS: dict[str, Any] = {
    "len": len,
    "sum": sum,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sorted": sorted,
    "any": any,
    "all": all,
    "Decimal": Decimal,
}


class ScriptRefused(Exception):
    """A condition or script uses something outside the restricted subset (or does not compile)."""


# Exceptions a script must never raise or catch by name: they stop the worker, not the step.
_UNREACHABLE = {"SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"}


def _builtins() -> dict[str, Any]:
    builtins = dict(safe_builtins)
    builtins.update(limited_builtins)
    builtins.update(HELPERS)
    builtins["range"] = limits.limited_range
    for name in _UNREACHABLE:
        builtins.pop(name, None)
    return builtins


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    return limits.guard_attribute(obj, name, Guards.safer_getattr(obj, name, default))


_BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": _builtins(),
    "__name__": "bpmn_script",
    "__metaclass__": type,
    "_getattr_": _guarded_getattr,
    "_getitem_": Eval.default_guarded_getitem,
    "_getiter_": Eval.default_guarded_getiter,
    "_iter_unpack_sequence_": Guards.guarded_iter_unpack_sequence,
    "_unpack_sequence_": Guards.guarded_unpack_sequence,
    "_write_": Guards.full_write_guard,
    "_inplacevar_": limits.inplace,
    "_binop_": limits.guarded_binop,
}


def compile_expression(expression: str):
    result = compile_restricted_eval(expression, limits.SCRIPT_FILENAME, policy=limits.BoundedTransformer)
    if result.errors:
        raise ScriptRefused("; ".join(result.errors))
    return result.code


def compile_script(script: str):
    if any(isinstance(node, ast.Import | ast.ImportFrom) for node in ast.walk(ast.parse(script))):
        raise ScriptRefused("imports are not allowed in scripts: use the helpers and operations the engine provides")
    result = compile_restricted_exec(script, limits.SCRIPT_FILENAME, policy=limits.BoundedTransformer)
    if result.errors:
        raise ScriptRefused("; ".join(result.errors))
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    """Evaluates and executes with RestrictedPython; task data is the namespace, functions are ours.

    `code_cache` is shared by the environments of one runtime, so each script compiles once per process
    however many actions run it.
    """

    def __init__(
        self,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        code_cache: dict | None = None,
        time_limit: float = limits.DEFAULT_TIME_LIMIT,
        per_action: bool = False,
    ):
        super().__init__({})
        self.functions = functions if functions is not None else {}
        self._cache: dict[tuple[str, str], Any] = code_cache if code_cache is not None else {}
        self.time_limit = time_limit
        # One budget for all evaluations of one user action; a shared environment gives each evaluation its own.
        self.budget = limits.TimeBudget(time_limit) if per_action else None

    def _code(self, kind: str, source: str):
        key = (kind, source)
        code = self._cache.get(key)
        if code is None:
            code = compile_expression(source) if kind == "eval" else compile_script(source)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = code
        return code

    def _namespace(self, context: Mapping[str, Any], external_context: Mapping[str, Any] | None):
        namespace = dict(_BASE_GLOBALS)
        namespace.update(self.functions)
        namespace.update(external_context or {})
        namespace.update(context)
        return namespace

    def _budget(self) -> limits.TimeBudget:
        return self.budget if self.budget is not None else limits.TimeBudget(self.time_limit)

    def evaluate(self, expression, context, external_context=None):
        return self._budget().run(self._code("eval", expression), self._namespace(context, external_context))

    def execute(self, script, context, external_context=None):
        namespace = self._namespace(context, external_context)
        fixed = set(namespace) - set(context)
        self._budget().run(self._code("exec", script), namespace)
        for name, value in namespace.items():
            if name in fixed or name.startswith("_") or callable(value) or isinstance(value, ModuleType):
                continue
            context[name] = value
        return True
