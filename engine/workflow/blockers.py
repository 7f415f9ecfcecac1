"""What must be true before an invoice is cancelled: the analysts' decision table `cancellation_blockers`.

The processes call it from a business rule task (its outputs `blocked` and `blocked_message` go into the task
data, and the next script refuses the action with `refuse_if_blocked`). The product also needs its answer
outside a running workflow, to store it on each invoice when the invoice is written (reads never evaluate it):
`decide` runs the same DMNEngine of the same parsed spec on the invoice's facts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import product
from types import SimpleNamespace

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.vocabulary import ClaimStatus, PaymentStatus

from .checks import CAMUNDA, NS
from .scripting import RestrictedEnvironment

DECISION = "cancellation_blockers"
INPUTS = ("payment_status", "claim_status", "advance_applied")
OUTPUTS = ("blocked", "blocked_message")
# Advances a table may compare against: none, the smallest, a large one.
_ADVANCES = (Decimal("0.00"), Decimal("0.01"), Decimal("100000.00"))


@dataclass(frozen=True)
class Verdict:
    """The table's answer for one invoice."""

    blocked: bool
    message: str | None


class BlockersUndecided(ValueError):
    """The table answered nothing usable for these facts (no rule matched, or the rule gave no `blocked`)."""


class _Facts:
    """What DMNEngine reads of a task: its data, its spec and the workflow's script engine."""

    def __init__(self, task_spec, data: dict, script_engine):
        self.task_spec = task_spec
        self.data = data
        self.workflow = SimpleNamespace(script_engine=script_engine, spec=task_spec._wf_spec, parent_task_id=None)
        self.workflow.top_workflow = self.workflow


def decide(task_spec, facts: dict, script_engine) -> Verdict:
    """The verdict of the business rule task `task_spec` (one calling cancellation_blockers) for `facts`."""
    result = task_spec.dmnEngine.result(_Facts(task_spec, dict(facts), script_engine))
    blocked = result.get("blocked")
    if not isinstance(blocked, bool):
        shown = _shown(facts)
        if not result:
            raise BlockersUndecided(f"no rule of the table matches {shown}: add one")
        raise BlockersUndecided(f"for {shown} the table gives blocked {blocked!r}: give True or False")
    message = result.get("blocked_message") or None
    if blocked and not message:
        raise BlockersUndecided(f"the rule for {_shown(facts)} blocks without a message: say what to do first")
    return Verdict(blocked, str(message) if message else None)


VALIDATION_TIME_LIMIT = 10.0  # CPU seconds per evaluation while validating (a deployment, not a user action)


class TableFailed(Exception):
    def __init__(self, element: str, message: str):
        super().__init__(message)
        self.element, self.message = element, message


def checked_task(process, spec) -> str:
    """The process's first business rule task calling cancellation_blockers ("" if none), after checking that
    the table gives every payment and claim status a verdict (blocked or not, and a message when blocked).
    `process` is the <bpmn:process> element; TableFailed names the task and what is wrong."""
    found = [
        task.get("id")
        for task in process.xpath(".//bpmn:businessRuleTask", namespaces=NS)
        if task.get(f"{{{CAMUNDA}}}decisionRef") == DECISION
    ]
    if not found:
        return ""
    try:
        # 24 evaluations of a small table: a budget of its own, roomy enough for a machine under load
        environment = RestrictedEnvironment(time_limit=VALIDATION_TIME_LIMIT)
        check_table(spec.task_specs[found[0]], PythonScriptEngine(environment=environment))
    except Exception as exc:  # noqa: BLE001 - any failure of the table is the analyst's to fix
        raise TableFailed(found[0], f"{DECISION}: {str(exc).splitlines()[0]}") from exc
    return found[0]


def _shown(facts: dict) -> str:
    return ", ".join(f"{k} {v!r}" if isinstance(v, str) else f"{k} {v}" for k, v in ((k, facts[k]) for k in INPUTS))


def check_table(task_spec, script_engine) -> None:
    """Every payment and claim status, with and without an advance, gets a verdict (raises the first gap)."""
    for payment, claim, advance in product(PaymentStatus, ClaimStatus, _ADVANCES):
        decide(
            task_spec,
            {"payment_status": str(payment), "claim_status": str(claim), "advance_applied": advance},
            script_engine,
        )
