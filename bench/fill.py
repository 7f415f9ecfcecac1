"""Bulk fill: clinics, users, the deployed processes, then every row with SQLAlchemy Core executemany."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, text

from engine.accounts.users import hash_password
from engine.db import refresh_statistics, unit_of_work
from engine.demo import DEMO_PASSWORD
from engine.models import (
    AuditEvent,
    CancellationRequest,
    Clinic,
    Invoice,
    ProcessInstance,
    RoleGrant,
    User,
    UserTask,
)
from engine.usecases import blockers
from engine.usecases.deployments import deploy_processes

from .plan import CLINICS, InvoicePlan, Plan
from .templates import Template, make_templates

BATCH = 5000
REASONS = (
    ("duplicate", "Duplicate invoice"),
    ("wrong_patient", "Wrong patient"),
    ("wrong_amount", "Wrong amount"),
    ("other", "Other"),
)
REQUEST_REMARKS = (
    "Invoice was issued twice for the same visit.",
    "Billed to the wrong patient record; the visit belongs to a sibling.",
    "Amount does not match the treatment plan agreed with the patient.",
    "Insurance covers this visit in full; patient must not be billed.",
    "Appointment was cancelled, no service delivered.",
)
REJECT_REMARKS = ("Two separate visits on that day: not a duplicate.", "Amount is right per the current price list.")
CANCEL_REMARKS = ("Cancelled as approved.", "Cancelled; corrected invoice issued.", "Cancelled, patient informed.")
TABLES = (Invoice, ProcessInstance, UserTask, CancellationRequest, AuditEvent)


@dataclass
class FillInfo:
    seconds: float
    rows: dict[str, int]
    instances_per_clinic: dict[int, int]


def _esc(value: str) -> str:
    return json.dumps(value)[1:-1]


def _people(engine: Engine, plan: Plan) -> None:
    password = hash_password(DEMO_PASSWORD)
    clinics = [
        {"id": c.id, "name": c.name, "cancellation_mode": c.mode, "currency": "USD", "timezone": c.timezone}
        for c in CLINICS
    ]
    users = [
        {"id": u.id, "username": u.username, "full_name": u.full_name, "password_hash": password, "active": True}
        for u in plan.users
    ]
    grants = [{"user_id": u.id, "clinic_id": u.clinic_id, "role": r} for u in plan.users for r in u.roles]
    created = plan.now
    with engine.begin() as conn:
        conn.execute(insert(Clinic), clinics)
        conn.execute(insert(User), [u | {"created_at": created} for u in users])
        conn.execute(insert(RoleGrant), grants)


def _invoice_row(invoice: InvoicePlan, template: Template | None, cancelled_by: int | None) -> dict:
    row = {
        "id": invoice.id,
        "clinic_id": invoice.clinic_id,
        "number": invoice.number,
        "patient_name": invoice.patient_name,
        "patient_id": invoice.patient_id,
        "invoice_date": invoice.date,
        "amount_cents": invoice.amount,
        "status": "open",
        "approval_status": None,
        "cancelled_at": None,
        "cancelled_by_id": None,
    }
    if template is not None:
        row["status"] = template.invoice["status"]
        row["approval_status"] = template.invoice["approval_status"]
        if template.invoice["cancelled"]:
            row["cancelled_at"], row["cancelled_by_id"] = invoice.times[-1], cancelled_by
    return row


class RowMaker:
    """The rows of one instance copied from its kind's template, with this invoice's values and people."""

    def __init__(self, plan: Plan, templates: dict[str, Template], next_ids: dict[str, int], seed: int = 11):
        self.rng = random.Random(seed)
        self.templates = templates
        self.ids = dict(next_ids)
        self.billing = {
            c.id: [u.id for u in plan.users_of(c.id, "billing1", "billing2", "billing3", "supervisor")] for c in CLINICS
        }
        self.admins = {c.id: plan.users_of(c.id, "admin")[0].id for c in CLINICS}
        # First decisions by approvers; the clinic administrator approves second (nobody decides twice).
        self.deciders = {
            c.id: [u.id for u in plan.users_of(c.id, "approver1", "approver2")] or [self.admins[c.id]] for c in CLINICS
        }

    def _next(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def rows(self, inv: InvoicePlan) -> tuple[dict, dict, list[dict], dict | None, list[dict]]:
        rng, tpl, times = self.rng, self.templates[inv.kind], inv.times
        people = {
            "billing": rng.choice(self.billing[inv.clinic_id]),
            "approver": rng.choice(self.deciders[inv.clinic_id]),
            "admin": self.admins[inv.clinic_id],
        }
        actor = [people[role] for role in tpl.roles]
        reason, reason_name = rng.choice(REASONS)
        raw = {
            "remarks": rng.choice(REQUEST_REMARKS),
            "decision_remarks": rng.choice(REJECT_REMARKS),
            "cancel_remarks": rng.choice(CANCEL_REMARKS),
        }
        values = {key: _esc(value) for key, value in raw.items()} | {
            "number": _esc(inv.number),
            "patient_name": _esc(inv.patient_name),
            "patient_id": _esc(inv.patient_id),
            "amount": f'"value": "{inv.amount}"',
            "reason": f'"reason": "{reason}"',
            "reason_name": json.dumps(reason_name),
        }
        iid = self._next("process_instances")
        base = {"clinic_id": inv.clinic_id, "invoice_id": inv.id}
        tasks, ready_since, done_by = [], None, set()
        for t in tpl.tasks:
            done = t["step_completed"]
            if done is not None:
                done_by.add(actor[done])
            tasks.append(
                base
                | {k: t[k] for k in ("task_id", "element_id", "name", "lane", "roles", "screen", "state")}
                | {
                    "id": self._next("user_tasks"),
                    "instance_id": iid,
                    "created_at": times[t["step_created"]],
                    "completed_at": times[done] if done is not None else None,
                    "completed_by_id": actor[done] if done is not None else None,
                    "form_data": t["form_data"].render(values) if t["form_data"] else None,
                    "done_by": "",
                }
            )
            if t["state"] == "ready" and ready_since is None:
                ready_since = times[t["step_created"]]
        people = "".join(f",{i}" for i in sorted(done_by)) + "," if done_by else ""
        for task in tasks:
            if task["state"] == "ready":
                task["done_by"] = people  # who did the steps before (the templates' ready step is the last one)
        i = tpl.instance
        instance = base | {
            "id": iid,
            "process_version_id": i["process_version_id"],
            "business_key": f"{inv.clinic_id}:{inv.number}",
            "status": i["status"],
            "state_json": tpl.state.render(values),
            "started_by_id": actor[0],
            "started_at": times[0],
            "updated_at": times[-1],
            "completed_at": times[-1] if i["completed"] else None,
            "waiting_element": i["waiting_element"],
            "waiting_task": i["waiting_task"],
            "waiting_roles": i["waiting_roles"],
            "waiting_since": ready_since if i["waiting_element"] else None,
            "incident_element": i["incident_element"],
            "incident_message": i["incident_message"],
            "incident_at": times[-1] if i["incident"] else None,
            "revision": i["revision"],
        }
        request = None
        if tpl.request is not None:
            decided = tpl.request["decided"]
            request = base | {
                "id": self._next("cancellation_requests"),
                "instance_id": iid,
                "reason": reason,
                "remarks": raw["remarks"],
                "status": tpl.request["status"],
                "requested_by_id": actor[0],
                "requested_at": times[0],
                "decided_by_id": actor[1] if decided else None,
                "decided_at": times[1] if decided else None,
                "decision_remarks": raw["decision_remarks"] if tpl.request["decision_remarks"] else None,
            }
        audits = [
            base
            | {
                "id": self._next("audit_events"),
                "instance_id": iid,
                "actor_id": actor[a["step"]],
                "action": a["action"],
                "at": times[a["step"]],
                "details": a["details"].render(values),
            }
            for a in tpl.audits
        ]
        return _invoice_row(inv, tpl, actor[-1]), instance, tasks, request, audits


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fill(engine: Engine, factory, plan: Plan) -> FillInfo:
    started = time.perf_counter()
    _people(engine, plan)
    with unit_of_work(factory) as session:
        deploy_processes(session)
    template_ids = {i.id for i in plan.templates.values()}
    with engine.begin() as conn:
        conn.execute(insert(Invoice), [_invoice_row(i, None, None) for i in plan.templates.values()])
    templates = make_templates(factory, plan)
    with engine.connect() as conn:
        next_ids = {m.__tablename__: conn.scalar(select(func.coalesce(func.max(m.id), 0))) for m in TABLES}
    maker = RowMaker(plan, templates, next_ids)
    with engine.begin() as conn:
        free = [_invoice_row(i, None, None) for i in plan.invoices if not i.kind and i.id not in template_ids]
        for chunk in _chunks(free, BATCH):
            conn.execute(insert(Invoice), chunk)
    for chunk in _chunks(plan.instances, BATCH):
        invoices, instances, tasks, requests, audits = [], [], [], [], []
        for inv in chunk:
            invoice, instance, task_rows, request, audit_rows = maker.rows(inv)
            invoices.append(invoice)
            instances.append(instance)
            tasks.extend(task_rows)
            audits.extend(audit_rows)
            if request is not None:
                requests.append(request)
        with engine.begin() as conn:
            for model, rows in ((Invoice, invoices), (ProcessInstance, instances), (UserTask, tasks)):
                conn.execute(insert(model), rows)
            for model, rows in ((CancellationRequest, requests), (AuditEvent, audits)):
                if rows:
                    conn.execute(insert(model), rows)
    with unit_of_work(factory) as session:  # each invoice's cancellation blockers verdict, as invoices sent in have
        blockers.refresh_stale(session)
    _after_fill(engine)
    with engine.connect() as conn:
        rows = {m.__tablename__: conn.scalar(select(func.count()).select_from(m)) for m in TABLES}
        per_clinic = dict(
            conn.execute(select(ProcessInstance.clinic_id, func.count()).group_by(ProcessInstance.clinic_id)).all()
        )
    return FillInfo(time.perf_counter() - started, rows, per_clinic)


def _after_fill(engine: Engine) -> None:
    """PostgreSQL: sequences past the explicit ids; VACUUM ANALYZE as autovacuum does after inserts (statistics,
    visibility map); a CHECKPOINT. SQLite: statistics refreshed as the app's worker does (engine.db), the WAL
    checkpointed."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for table in ("clinics", "users", "role_grants", *(m.__tablename__ for m in TABLES)):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            conn.execute(text("CHECKPOINT"))  # the bulk load's dirty pages written now, not while reads are timed
    else:
        refresh_statistics(engine)
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
