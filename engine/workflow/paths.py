"""The decision steps still ahead of a waiting one, read from the diagram: which user tasks of the same screen
follow when each is decided with a choice that leads on (e.g. Approve), through the diagram's gateways evaluated
on the instance's data (what the approval policy's decision table put there).

Lists show it ("Needs 2 approvals: Approver or Clinic administrator, then Clinic administrator") without loading
workflows: it is computed when a request starts waiting on such a step and stored on the request. Scripts between
the steps are not run (their effects are not foreseen); boundary events (reminders, withdrawals) are not followed:
they are what may happen instead, not the way on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.specs.ExclusiveChoice import ExclusiveChoice

from .forms import FormDef
from .parsing import LoadedProcess, screen_of

MAX_STEPS = 10  # a path longer than this is a loop of the diagram: shown as far as this
MAX_CHOICES = 6  # combinations of a form's choices tried per step (Approve, Reject: 2)

Evaluate = Callable[[str, dict], Any]


def steps_ahead(loaded: LoadedProcess, start, data: dict, evaluate: Evaluate) -> list:
    """The task specs of `start`'s screen that the request passes on its way on, `start` first."""
    path, current = [start], start
    while len(path) < MAX_STEPS:
        following = _next_on_screen(loaded, current, data, evaluate, screen_of(start), path)
        if following is None:
            break
        path.append(following)
        current = following
    return path


def _next_on_screen(loaded: LoadedProcess, spec, data: dict, evaluate: Evaluate, screen, path: list):
    for choice in _choices(loaded.form(spec.name)):
        for found in _next_user_tasks(loaded, spec, data | choice, evaluate):
            if screen_of(found) == screen and found not in path:
                return found
    return None


def _choices(form: FormDef) -> list[dict]:
    chosen = [f for f in form.fields if f.options]
    combinations = list(itertools.islice(itertools.product(*(f.options for f in chosen)), MAX_CHOICES))
    return [{f.id: o.id for f, o in zip(chosen, combo, strict=True)} for combo in combinations] or [{}]


def _next_user_tasks(loaded: LoadedProcess, spec, data: dict, evaluate: Evaluate) -> list:
    found, seen, todo = [], set(), list(spec.outputs)
    while todo:
        current = todo.pop(0)
        if current.name in seen or isinstance(current, BoundaryEvent):
            continue
        seen.add(current.name)
        if getattr(current, "manual", False):
            found.append(current)
        elif getattr(current, "cond_task_specs", None) is not None:  # an exclusive or inclusive gateway
            taken = [name for condition, name in current.cond_task_specs if _holds(evaluate, condition, data)]
            if isinstance(current, ExclusiveChoice):
                taken = taken[:1] or ([current.default_task_spec] if current.default_task_spec else [])
            todo.extend(loaded.spec.task_specs[name] for name in taken)
        else:
            todo.extend(current.outputs)
    return found


def _holds(evaluate: Evaluate, condition, data: dict) -> bool:
    if condition is None:
        return False
    try:
        return bool(evaluate(condition.args[0], dict(data)))
    except Exception:  # noqa: BLE001 - a condition that cannot be evaluated on what is known does not lead on
        return False
