"""CHECK constraints on the status, state, screen and outcome columns (migration 0007): a typo is never stored.

They run on the suite's database (TEST_DB); upgrading databases that hold rows is tests/test_schema_upgrade.py.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from pathlib import Path

import pytest
from schema_rows import CONSTRAINTS, add_workflow_rows
from sqlalchemy import CheckConstraint, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.db import make_engine, unit_of_work
from engine.models import (
    AuditEvent,
    Base,
    CancellationRequest,
    Deployment,
    Invoice,
    ProcessInstance,
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

TEST_DB = os.environ.get("TEST_DB", "sqlite")
MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0007_status_check_constraints.py"

# (model, column, its words, a misspelling, the constraint that refuses it)
COLUMNS = [
    (ProcessInstance, "status", InstanceStatus, "runing", "ck_process_instances_status"),
    (CancellationRequest, "status", RequestStatus, "aproved", "ck_cancellation_requests_status"),
    (Invoice, "status", InvoiceStatus, "canceled", "ck_invoices_status"),
    (Invoice, "approval_status", RequestStatus, "aproved", "ck_invoices_approval_status"),
    (UserTask, "state", UserTaskState, "done", "ck_user_tasks_state"),
    (UserTask, "screen", Screen, "financial-approval", "ck_user_tasks_screen"),
    (Deployment, "outcome", DeploymentOutcome, "new-version", "ck_deployments_outcome"),
]
COLUMN_IDS = [f"{model.__tablename__}.{column}" for model, column, *_ in COLUMNS]


@pytest.fixture
def workflow_rows(demo, session_factory):
    with unit_of_work(session_factory) as session:
        add_workflow_rows(session)


# --- on the suite's database (SQLite or PostgreSQL) ---


def test_the_database_has_every_constraint(database_url):
    engine = make_engine(database_url)
    try:
        inspector = inspect(engine)
        found = {table: {c["name"] for c in inspector.get_check_constraints(table)} for table in CONSTRAINTS}
    finally:
        engine.dispose()
    assert found == CONSTRAINTS


@pytest.mark.parametrize(("model", "column", "words", "typo", "constraint"), COLUMNS, ids=COLUMN_IDS)
def test_a_misspelt_word_is_refused_and_nothing_is_written(
    workflow_rows, session_factory, db_snapshot, model, column, words, typo, constraint
):
    before = db_snapshot()
    with pytest.raises(IntegrityError, match=constraint):
        with unit_of_work(session_factory) as session:
            session.add(AuditEvent(action="probe"))  # a valid write in the same unit of work
            session.flush()
            row_id = session.scalars(select(model.id).order_by(model.id)).first()
            session.execute(update(model).where(model.id == row_id).values({column: typo}))
    assert db_snapshot() == before


def test_a_new_row_with_a_misspelt_word_is_refused(workflow_rows, session_factory, db_snapshot):
    before = db_snapshot()
    with pytest.raises(IntegrityError, match="ck_user_tasks_screen"):
        with unit_of_work(session_factory) as session:
            task = session.scalars(select(UserTask).order_by(UserTask.id)).first()
            session.add(
                UserTask(
                    instance_id=task.instance_id,
                    clinic_id=task.clinic_id,
                    invoice_id=task.invoice_id,
                    task_id=str(uuid.uuid4()),
                    element_id="approve",
                    name="Approve",
                    screen="financial-approval",
                )
            )
    with pytest.raises(IntegrityError, match="ck_process_instances_status"):
        with unit_of_work(session_factory) as session:
            instance = session.scalars(select(ProcessInstance).order_by(ProcessInstance.id)).first()
            invoice_id = session.scalars(
                select(Invoice.id).where(Invoice.id.not_in(select(ProcessInstance.invoice_id)))
            ).first()
            session.add(
                ProcessInstance(
                    clinic_id=instance.clinic_id,
                    invoice_id=invoice_id,
                    process_version_id=instance.process_version_id,
                    business_key="x",
                    status="runing",
                    state_json="{}",
                    started_by_id=instance.started_by_id,
                )
            )
    assert db_snapshot() == before


@pytest.mark.parametrize(("model", "column", "words", "typo", "constraint"), COLUMNS, ids=COLUMN_IDS)
def test_every_word_of_the_vocabulary_is_accepted(
    workflow_rows, session_factory, model, column, words, typo, constraint
):
    values = [*words, None] if column == "approval_status" else list(words)
    for value in values:
        with unit_of_work(session_factory) as session:
            row_id = session.scalars(select(model.id).order_by(model.id)).first()
            session.execute(update(model).where(model.id == row_id).values({column: value}))
        with unit_of_work(session_factory) as session:
            assert session.scalar(select(getattr(model, column)).where(model.id == row_id)) == value


def test_defaults_are_words_of_the_vocabulary(workflow_rows, session_factory):
    with unit_of_work(session_factory) as session:
        task = session.scalars(select(UserTask).order_by(UserTask.id)).first()
        new = UserTask(
            instance_id=task.instance_id,
            clinic_id=task.clinic_id,
            invoice_id=task.invoice_id,
            task_id=str(uuid.uuid4()),
            element_id="review",
            name="Review",
        )
        session.add(new)
    with unit_of_work(session_factory) as session:
        assert session.execute(text("SELECT state, screen FROM user_tasks WHERE id = :id"), {"id": new.id}).one() == (
            "ready",
            "invoice",
        )


def test_the_migration_and_the_models_say_the_same():
    """0007 writes its lists out; the models build theirs from engine.vocabulary: they must agree."""
    spec = importlib.util.spec_from_file_location("migration_0007", MIGRATION)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    in_models = {
        table.name: {(c.name, str(c.sqltext)) for c in table.constraints if isinstance(c, CheckConstraint)}
        for table in Base.metadata.sorted_tables
    }
    kinds, deliveries = "'waiting_for_you', 'my_request', 'incident'", "'immediately', 'digest', 'off'"
    outcomes = "'cancelled', 'rejected', 'withdrawn', 'terminated', 'undone', 'completed'"
    later = {  # added by revisions 0014, 0015, 0017, 0018, 0022 and 0023
        "api_tokens": {("ck_api_tokens_kind", "kind IN ('token', 'key')")},
        "cancellation_requests": {("ck_cancellation_requests_kind", "kind IN ('cancel', 'undo')")},
        "webhook_deliveries": {
            ("ck_webhook_deliveries_status", "status IN ('pending', 'delivered', 'failed', 'skipped')")
        },
        "timers": {("ck_timers_status", "status IN ('waiting', 'fired', 'cancelled', 'failed')")},
        "notifications": {
            ("ck_notifications_kind", f"kind IN ({kinds})"),
            ("ck_notifications_delivery", f"delivery IN ({deliveries})"),
        },
        "notification_preferences": {
            ("ck_notification_preferences_kind", f"kind IN ({kinds})"),
            ("ck_notification_preferences_delivery", f"delivery IN ({deliveries})"),
        },
        "mail_messages": {("ck_mail_messages_status", "status IN ('pending', 'sent', 'failed')")},
        "process_instances": {("ck_process_instances_outcome", f"outcome IS NULL OR outcome IN ({outcomes})")},
        "invoices": {
            ("ck_invoices_payment_status", "payment_status IN ('unpaid', 'partially_paid', 'paid')"),
            ("ck_invoices_claim_status", "claim_status IN ('none', 'submitted', 'accepted')"),
        },
    }
    written = {table: set(checks) for table, checks in migration.CHECKS.items()}
    for table, checks in later.items():
        written[table] = written.get(table, set()) | checks
    statuses = ", ".join(f"'{s}'" for s in RequestStatus)  # revision 0020 added 'withdrawn' to these two
    for table, name, sql in (
        ("cancellation_requests", "ck_cancellation_requests_status", f"status IN ({statuses})"),
        ("invoices", "ck_invoices_approval_status", f"approval_status IS NULL OR approval_status IN ({statuses})"),
    ):
        written[table] = {c for c in written[table] if c[0] != name} | {(name, sql)}
    assert written == {table: checks for table, checks in in_models.items() if checks}
    index = next(
        i for i in Base.metadata.tables["process_instances"].indexes if i.name == "uq_active_instance_per_invoice"
    )
    for dialect in ("sqlite", "postgresql"):
        assert str(index.dialect_options[dialect]["where"]) == "status IN ('running', 'incident')"
