"""One real instance per state, made through the engine; the bulk fill copies its rows and state_json.

Each template's values (invoice number, patient, amount, reason, remarks) are easy to find in its JSON, so a
copy for another invoice is the same text with those values stamped in: its state_json, task rows and audit
details stay what the engine wrote, and a running copy can be acted on like the original.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.accounts.users import actor_for
from engine.db import make_session_factory, unit_of_work
from engine.instances.operations import build_runtime
from engine.models import AuditEvent, CancellationRequest, Invoice, ProcessInstance, User, UserTask
from engine.usecases import approval, instance_admin, steps

from .plan import ACTIONS, InvoicePlan, Plan

REMARKS = {
    "remarks": "TPL-REQUEST-REMARKS",
    "decision_remarks": "TPL-DECISION-REMARKS",
    "cancel_remarks": "TPL-CANCEL-REMARKS",
}
INCIDENT_MESSAGE = "Ledger service did not answer within 30 s"
USER_OF_ROLE = {"billing": "billing1", "approver": "approver1", "admin": "admin"}
# Billing requests and cancels, an approver decides, the clinic administrator approves second and terminates.
ROLE_OF_ACTION = {
    "request": "billing",
    "approve": "approver",
    "reject": "approver",
    "approve_failing": "approver",
    "approve2": "admin",
    "approve2_failing": "admin",
    "terminate": "admin",
    "cancel": "billing",
}


class Stamp:
    """A text with some literal values marked, rendered again with other values in one pass."""

    def __init__(self, text: str, tokens: dict[str, str]):
        present = {k: v for k, v in tokens.items() if v and v in text}
        if not present:
            self.parts = [text]
            return
        by_literal = {v: k for k, v in present.items()}
        literals = sorted(present.values(), key=len, reverse=True)
        pattern = re.compile("(" + "|".join(re.escape(v) for v in literals) + ")")
        self.parts = pattern.split(text)
        for i in range(1, len(self.parts), 2):
            self.parts[i] = by_literal[self.parts[i]]

    def render(self, values: dict[str, str]) -> str:
        parts = self.parts
        return "".join([values[p] if i % 2 else p for i, p in enumerate(parts)])


@dataclass
class Template:
    kind: str
    roles: tuple[str, ...]  # the role doing each action ("billing", "approver", "admin")
    instance: dict[str, Any]
    state: Stamp
    tasks: list[dict[str, Any]] = field(default_factory=list)  # row values + step_created/step_completed
    audits: list[dict[str, Any]] = field(default_factory=list)  # action, details (Stamp), step
    request: dict[str, Any] | None = None
    invoice: dict[str, Any] = field(default_factory=dict)


def tokens_of(invoice: InvoicePlan) -> dict[str, str]:
    """Literal JSON text of the template values (key -> text as json.dumps wrote it)."""
    return {
        "number": json.dumps(invoice.number)[1:-1],
        "patient_name": json.dumps(invoice.patient_name)[1:-1],
        "patient_id": json.dumps(invoice.patient_id)[1:-1],
        "amount": f'"value": "{invoice.amount}"',
        "reason": '"reason": "duplicate"',
        "reason_name": '"Duplicate invoice"',
    } | {key: text for key, text in REMARKS.items()}


def _actor(session: Session, name: str):
    return actor_for(session, session.scalar(select(User.id).where(User.username == name)))


def _run_action(factory: sessionmaker, action: str, actor, invoice: InvoicePlan, instance_id: int | None) -> None:
    with unit_of_work(factory) as session:
        if action == "request":
            values = {"reason": "duplicate", "remarks": REMARKS["remarks"]}
            steps.complete_task(session, actor, invoice.number, "request_cancellation", values)
        elif action == "cancel":
            steps.complete_task(
                session, actor, invoice.number, "cancel_invoice", {"cancel_remarks": REMARKS["cancel_remarks"]}
            )
        elif action == "terminate":
            instance_admin.terminate(session, actor, instance_id, "Patient dispute: settled outside the system")
        else:
            request_id = session.scalar(
                select(CancellationRequest.id).where(CancellationRequest.instance_id == instance_id)
            )
            step_id = approval.current_step(session, session.get(CancellationRequest, request_id)).id
            decision = "reject" if action == "reject" else "approve"
            remarks = REMARKS["decision_remarks"] if decision == "reject" else ""
            approval.decide(session, actor, request_id, {"decision": decision, "decision_remarks": remarks}, step_id)


def _failing_operation(_ctx, **_kwargs):
    raise RuntimeError(INCIDENT_MESSAGE)


def make_template(factory: sessionmaker, plan: Plan, kind: str) -> Template:
    invoice = plan.templates[kind]
    prefix = next(u.username.split("_")[0] for u in plan.users if u.clinic_id == invoice.clinic_id)
    actions = ACTIONS[kind]
    tasks: dict[str, dict] = {}
    audits: list[dict] = []
    instance_id = None
    for step, action in enumerate(actions):
        role = ROLE_OF_ACTION[action]
        with unit_of_work(factory, read_only=True) as session:
            actor = _actor(session, f"{prefix}_{USER_OF_ROLE[role]}")
        if action.endswith("_failing"):
            # A runtime of its own whose record_decision fails: the incident an instance shows.
            failing = make_session_factory(factory.kw["bind"], build_runtime({"record_decision": _failing_operation}))
            _run_action(failing, action, actor, invoice, instance_id)
        else:
            _run_action(factory, action, actor, invoice, instance_id)
        with unit_of_work(factory, read_only=True) as session:
            instance_id = session.scalar(select(ProcessInstance.id).where(ProcessInstance.invoice_id == invoice.id))
            for row in session.scalars(select(UserTask).where(UserTask.instance_id == instance_id)):
                entry = tasks.setdefault(row.task_id, {"step_created": step, "step_completed": None})
                if row.completed_at is not None and entry["step_completed"] is None:
                    entry["step_completed"] = step
                entry.update(_columns(row, "task_id", "element_id", "name", "lane", "roles", "screen", "state"))
                entry["form_data"] = row.form_data
            seen = len(audits)
            query = select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.id)
            audits.extend(
                {"action": e.action, "details": e.details, "step": step} for e in list(session.scalars(query))[seen:]
            )
    return _capture(factory, plan, kind, instance_id, tasks, audits)


def _columns(row, *names: str) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


def _capture(factory, plan, kind, instance_id, tasks, audits) -> Template:
    invoice = plan.templates[kind]
    tokens = tokens_of(invoice)
    with unit_of_work(factory, read_only=True) as session:
        instance = session.get(ProcessInstance, instance_id)
        request = session.scalar(select(CancellationRequest).where(CancellationRequest.instance_id == instance_id))
        stored = session.get(Invoice, invoice.id)
        template = Template(
            kind=kind,
            roles=tuple(ROLE_OF_ACTION[a] for a in ACTIONS[kind]),
            instance=_columns(
                instance,
                "process_version_id",
                "status",
                "revision",
                "waiting_element",
                "waiting_task",
                "waiting_roles",
                "incident_element",
                "incident_message",
            ),
            state=Stamp(instance.state_json, tokens),
        )
        template.instance["completed"] = instance.completed_at is not None
        template.instance["incident"] = instance.incident_at is not None
        if request is not None:
            template.request = _columns(request, "status", "decision_remarks") | {
                "decided": request.decided_at is not None
            }
        template.invoice = _columns(stored, "status", "approval_status") | {
            "cancelled": stored.cancelled_at is not None
        }
    for entry in tasks.values():
        entry["form_data"] = Stamp(entry["form_data"], tokens) if entry["form_data"] else None
        template.tasks.append(entry)
    for entry in audits:
        entry["details"] = Stamp(entry["details"], tokens)
        template.audits.append(entry)
    return template


def make_templates(factory: sessionmaker, plan: Plan) -> dict[str, Template]:
    return {kind: make_template(factory, plan, kind) for kind in plan.templates}
