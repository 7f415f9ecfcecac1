"""Rows of every kind for the schema tests: what CHECK constraints guard and what an upgrade must keep."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import select

from engine.db import make_engine, make_session_factory, unit_of_work
from engine.demo import seed_demo
from engine.instances import deciders
from engine.models import (
    AuditEvent,
    CancellationRequest,
    Clinic,
    Deployment,
    Invoice,
    ProcessInstance,
    ProcessVersion,
    User,
    UserTask,
)
from engine.vocabulary import (
    DeploymentOutcome,
    InstanceStatus,
    InvoiceStatus,
    RequestStatus,
    Screen,
    UserTaskState,
)
from engine.workflow.parsing import content_hash

CONSTRAINTS_0007 = {
    "process_instances": {"ck_process_instances_status"},
    "cancellation_requests": {"ck_cancellation_requests_status"},
    "invoices": {"ck_invoices_status", "ck_invoices_approval_status"},
    "user_tasks": {"ck_user_tasks_state", "ck_user_tasks_screen"},
    "deployments": {"ck_deployments_outcome"},
}
# At head: 0015 adds the billing system's statuses to invoices, 0018 the kind of a request, 0025 the outcome of an
# instance.
CONSTRAINTS = CONSTRAINTS_0007 | {
    "invoices": CONSTRAINTS_0007["invoices"] | {"ck_invoices_payment_status", "ck_invoices_claim_status"},
    "cancellation_requests": CONSTRAINTS_0007["cancellation_requests"] | {"ck_cancellation_requests_kind"},
    "process_instances": CONSTRAINTS_0007["process_instances"] | {"ck_process_instances_outcome"},
}


def add_workflow_rows(session) -> None:
    """Rows in every table that points at invoices and process instances, using every status, state and screen."""
    billing = session.scalar(select(User).where(User.username == "billing"))
    invoices = session.scalars(select(Invoice).where(Invoice.number.like("NS-%")).order_by(Invoice.id)).all()
    version = ProcessVersion(
        process_id="schema_test",
        name="Schema test",
        version=1,
        content_hash=content_hash({}),  # what migration 0009 computes for it: its rows survive a round trip
        source_files="{}",
        spec_json="{}",
    )
    session.add_all(
        [
            Deployment(filename="a.bpmn", deployed_by="analyst", version=version, outcome=outcome)
            for outcome in DeploymentOutcome
        ]
    )
    # The words revision 0007 knows ('withdrawn' came with 0020): these rows are also copied into old databases.
    request_statuses = [s for s in RequestStatus if s != RequestStatus.WITHDRAWN]
    for n, status in enumerate([*InstanceStatus, *InstanceStatus]):
        invoice = invoices[n]
        request_status = request_statuses[n % len(request_statuses)]
        instance = ProcessInstance(
            clinic_id=invoice.clinic_id,
            invoice_id=invoice.id,
            version=version,
            business_key=invoice.number,
            status=status,
            state_json="{}",
            started_by_id=billing.id,
        )
        session.add(instance)
        session.flush()
        session.add(
            CancellationRequest(
                clinic_id=invoice.clinic_id,
                invoice_id=invoice.id,
                instance_id=instance.id,
                reason="duplicate",
                remarks="schema test",
                status=request_status,
                requested_by_id=billing.id,
            )
        )
        for state, screen in zip(UserTaskState, [*Screen, Screen.INVOICE], strict=True):
            session.add(
                UserTask(
                    instance_id=instance.id,
                    clinic_id=invoice.clinic_id,
                    invoice_id=invoice.id,
                    task_id=str(uuid.uuid4()),
                    element_id=f"task_{state}",
                    name=state.capitalize(),
                    screen=screen,
                    state=state,
                )
            )
        session.add(
            AuditEvent(
                clinic_id=invoice.clinic_id,
                invoice_id=invoice.id,
                instance_id=instance.id,
                actor_id=billing.id,
                action="task_completed",
            )
        )
        invoice.approval_status = request_status
        if request_status is RequestStatus.COMPLETED:
            invoice.status = InvoiceStatus.CANCELLED


def seed_database(url: str, derived: bool = False) -> None:
    """Demo data and rows of every kind in the database at `url` (at whatever revision it is); `derived` also
    writes what the engine derives from them (the No one may decide flags: needs revision 0012 or later)."""
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            seed_demo(session, invoices_per_clinic=12)
        with unit_of_work(factory) as session:
            add_workflow_rows(session)
            if derived:
                for clinic_id in session.scalars(select(Clinic.id)):
                    deciders.refresh_clinic(session, clinic_id)
    finally:
        engine.dispose()


def seed_old_sqlite(path, revision: str, scratch) -> None:
    """A SQLite file at an old `revision` holding the rows seed_database writes: they are written by today's
    models into a database at head (in the directory `scratch`), then copied, column by column that the old
    schema has, into the old file."""
    from alembic import command  # noqa: PLC0415 - only the upgrade tests need it

    from engine.schema import alembic_config, upgrade  # noqa: PLC0415

    command.upgrade(alembic_config(f"sqlite:///{path}"), revision)
    head = Path(scratch) / "head.db"
    upgrade(f"sqlite:///{head}")
    seed_database(f"sqlite:///{head}")
    conn = sqlite3.connect(path)
    try:
        conn.execute("ATTACH DATABASE ? AS head", (str(head),))
        tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table == "alembic_version":
                continue
            columns = ", ".join(f'"{r[1]}"' for r in conn.execute(f'PRAGMA main.table_info("{table}")'))
            conn.execute(f'INSERT INTO main."{table}" ({columns}) SELECT {columns} FROM head."{table}"')
        conn.commit()
        conn.execute("DETACH DATABASE head")
    finally:
        conn.close()
