"""Validation of a diagram's timer events: their expressions must evaluate when a timer starts, to an ISO 8601
duration (P1D) or date and time, from literals and clinic_setting(name) alone; `make validate` and deployment
refuse any other, naming the timer. A cycle (R3/PT1H) is refused: the engine's timers fire once."""

from __future__ import annotations

import ast
from datetime import UTC, datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition

from engine.vocabulary import CLINIC_SETTING_DEFAULTS

from .durations import BadDuration, due_at
from .scripting import RestrictedEnvironment, ScriptRefused, compile_expression

_START = datetime(2026, 1, 1, tzinfo=UTC)


def _clinic_setting(name: object) -> str:
    if name not in CLINIC_SETTING_DEFAULTS:
        raise ValueError(f"clinic_setting({name!r}) names no setting; use one of {', '.join(CLINIC_SETTING_DEFAULTS)}")
    return CLINIC_SETTING_DEFAULTS[name]


def check_timer(task_spec) -> None:
    """Raises ValueError saying what is wrong with the task's timer definition, if it has one."""
    definition = getattr(task_spec, "event_definition", None)
    if not isinstance(definition, TimerEventDefinition):
        return
    if isinstance(definition, CycleTimerEventDefinition):
        raise ValueError("the timer is a cycle (timeCycle): use a duration (timeDuration) or a date (timeDate)")
    expression = (definition.expression or "").strip()
    if not expression:
        raise ValueError('the timer has no expression: write a duration in quotes such as "P1D"')
    try:
        compile_expression(expression)
    except (ScriptRefused, SyntaxError) as exc:
        raise ValueError(f"the timer's expression {expression} does not compile: {exc}") from None
    for node in ast.walk(ast.parse(expression, mode="eval")):
        if isinstance(node, ast.Name) and node.id != "clinic_setting":
            raise ValueError(
                f"the timer's expression {expression} uses '{node.id}', which is not known when the timer starts: "
                "use a duration in quotes such as \"P1D\" or clinic_setting('reminder_after')"
            )
    try:
        value = RestrictedEnvironment({"clinic_setting": _clinic_setting}).evaluate(expression, {})
        due_at(value, _START, f"the timer's expression {expression}")
    except BadDuration as exc:
        raise ValueError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever the expression raised, said to the analyst
        raise ValueError(f"the timer's expression {expression} cannot be evaluated: {exc}") from None
