"""CHECK constraints on the status, state, screen and outcome columns (migration 0007): a typo is never stored.

The first tests run on the suite's database (TEST_DB); the SQLite upgrade tests always run on SQLite files of
their own, the PostgreSQL one on a scratch database when TEST_DB=postgres.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sqlite3
import uuid
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import CheckConstraint, delete, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.db import make_engine, make_session_factory, unit_of_work
from engine.demo import seed_demo
from engine.models import (
    AuditEvent,
    Base,
    CancellationRequest,
    Deployment,
    Invoice,
    ProcessInstance,
    ProcessVersion,
    User,
    UserTask,
)
from engine.schema import alembic_config, scratch_postgres_database
from engine.vocabulary import (
    DeploymentOutcome,
    InstanceStatus,
    InvoiceStatus,
    RequestStatus,
    Screen,
    UserTaskState,
)
from engine.workflow.parsing import content_hash

TEST_DB = os.environ.get("TEST_DB", "sqlite")
MIGRATION = Path(__file__).resolve().parent.parent / "migrations" / "versions" / "0007_status_check_constraints.py"

CONSTRAINTS = {
    "process_instances": {"ck_process_instances_status"},
    "cancellation_requests": {"ck_cancellation_requests_status"},
    "invoices": {"ck_invoices_status", "ck_invoices_approval_status"},
    "user_tasks": {"ck_user_tasks_state", "ck_user_tasks_screen"},
    "deployments": {"ck_deployments_outcome"},
}
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
    request_statuses = list(RequestStatus)
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
    assert {table: set(checks) for table, checks in migration.CHECKS.items()} == {
        table: checks for table, checks in in_models.items() if checks
    }
    index = next(
        i for i in Base.metadata.tables["process_instances"].indexes if i.name == "uq_active_instance_per_invoice"
    )
    for dialect in ("sqlite", "postgresql"):
        assert str(index.dialect_options[dialect]["where"]) == "status IN ('running', 'incident')"


# --- upgrading a SQLite database that holds rows ---


def sqlite_state(path) -> dict:
    """What must survive the rebuild: rows, indexes (with their SQL), triggers, columns and foreign keys."""
    conn = sqlite3.connect(path)
    try:
        master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        tables = [name for kind, name, _, _ in master if kind == "table"]
        return {
            "rows": {
                t: conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall()
                for t in tables
                if t != "alembic_version"
            },
            "indexes": [row for row in master if row[0] == "index"],
            "triggers": [row for row in master if row[0] == "trigger"],
            "table_sql": {name: sql for kind, name, _, sql in master if kind == "table"},
            "columns": {t: conn.execute(f'PRAGMA table_info("{t}")').fetchall() for t in tables},
            "foreign_keys": {
                t: sorted(row[2:] for row in conn.execute(f'PRAGMA foreign_key_list("{t}")')) for t in tables
            },
            "checks": {
                name: set(re.findall(r"CONSTRAINT (\w+) CHECK", sql))
                for kind, name, _, sql in master
                if kind == "table"
            },
            "foreign_key_check": conn.execute("PRAGMA foreign_key_check").fetchall(),
            "integrity_check": conn.execute("PRAGMA integrity_check").fetchall(),
            "revision": conn.execute("SELECT version_num FROM alembic_version").fetchall(),
        }
    finally:
        conn.close()


@pytest.fixture
def sqlite_at_0006(tmp_path):
    """A SQLite file migrated to 0006 holding demo data and rows in every table that references others."""
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "0006")
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            seed_demo(session, invoices_per_clinic=12)
        with unit_of_work(factory) as session:
            add_workflow_rows(session)
    finally:
        engine.dispose()
    return path


def test_sqlite_upgrade_keeps_every_row_index_and_reference(sqlite_at_0006):
    cfg = alembic_config(f"sqlite:///{sqlite_at_0006}")
    before = sqlite_state(sqlite_at_0006)
    assert before["revision"] == [("0006",)] and all(before["rows"][t] for t in CONSTRAINTS)
    assert before["rows"]["audit_events"] and before["rows"]["user_tasks"]

    command.upgrade(cfg, "0007")
    after = sqlite_state(sqlite_at_0006)
    assert after["revision"] == [("0007",)]
    for key in ("rows", "indexes", "triggers", "columns", "foreign_keys"):
        assert after[key] == before[key], key
    assert {t: c for t, c in after["checks"].items() if c} == CONSTRAINTS
    rebuilt = set(CONSTRAINTS)
    assert {t: s for t, s in after["table_sql"].items() if t not in rebuilt | {"alembic_version"}} == {
        t: s for t, s in before["table_sql"].items() if t not in rebuilt | {"alembic_version"}
    }  # audit_events (with its triggers) and the other tables are not rebuilt
    assert after["foreign_key_check"] == [] and after["integrity_check"] == [("ok",)]
    expected_partial = (
        "CREATE UNIQUE INDEX uq_active_instance_per_invoice ON process_instances (invoice_id) "
        "WHERE status IN ('running', 'incident')"
    )
    expected_order = (
        "CREATE INDEX ix_instances_clinic_status_order ON process_instances "
        "(clinic_id, status, waiting_since, started_at DESC, id DESC)"
    )
    index_sql = {name: sql for _, name, _, sql in after["indexes"]}
    assert index_sql["uq_active_instance_per_invoice"] == expected_partial
    assert index_sql["ix_instances_clinic_status_order"] == expected_order

    command.downgrade(cfg, "-1")
    down = sqlite_state(sqlite_at_0006)
    assert down["revision"] == [("0006",)]
    for key in ("rows", "indexes", "triggers", "columns", "foreign_keys"):
        assert down[key] == before[key], key
    assert not any(down["checks"].values())
    assert down["foreign_key_check"] == [] and down["integrity_check"] == [("ok",)]

    command.upgrade(cfg, "0007")
    again = sqlite_state(sqlite_at_0006)
    assert again["rows"] == before["rows"] and again["indexes"] == before["indexes"]
    assert {t: c for t, c in again["checks"].items() if c} == CONSTRAINTS


def test_sqlite_database_still_enforces_foreign_keys_after_the_upgrade(sqlite_at_0006):
    url = f"sqlite:///{sqlite_at_0006}"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            with engine.begin() as conn:
                conn.execute(update(UserTask).values(instance_id=424242))
        with pytest.raises(IntegrityError, match="FOREIGN KEY"):
            with engine.begin() as conn:
                conn.execute(delete(Invoice))  # referenced by instances, requests, tasks and audit events
    finally:
        engine.dispose()


def test_sqlite_upgrade_refuses_a_misspelt_word_already_stored_and_changes_nothing(sqlite_at_0006):
    conn = sqlite3.connect(sqlite_at_0006)
    with conn:
        conn.execute("UPDATE user_tasks SET screen = 'financial-approval' WHERE id = 1")
    conn.close()
    before = sqlite_state(sqlite_at_0006)
    with pytest.raises(IntegrityError, match="ck_user_tasks_screen"):
        command.upgrade(alembic_config(f"sqlite:///{sqlite_at_0006}"), "head")
    assert sqlite_state(sqlite_at_0006) == before  # the revision rolled back: tables, indexes, rows, version


def test_sqlite_upgrade_refuses_a_broken_reference(sqlite_at_0006):
    conn = sqlite3.connect(sqlite_at_0006)  # a plain connection: foreign keys off, as an old tool might write
    with conn:
        conn.execute("UPDATE user_tasks SET instance_id = 424242 WHERE id = 1")
    conn.close()
    before = sqlite_state(sqlite_at_0006)
    with pytest.raises(RuntimeError, match=r"foreign_key_check after the upgrade of revision 0007.*'user_tasks'"):
        command.upgrade(alembic_config(f"sqlite:///{sqlite_at_0006}"), "head")
    assert sqlite_state(sqlite_at_0006) == before


# --- PostgreSQL: down and up again on a scratch database ---


@pytest.mark.skipif(TEST_DB != "postgres", reason="TEST_DB=postgres runs it")
def test_postgres_downgrade_and_upgrade_again():
    with scratch_postgres_database(os.environ["TEST_POSTGRES_URL"], "clinic_ck") as url:
        cfg = alembic_config(url)
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine)
            with unit_of_work(factory) as session:
                seed_demo(session, invoices_per_clinic=12)
            with unit_of_work(factory) as session:
                add_workflow_rows(session)
            before = postgres_rows(engine)

            def checks():
                inspector = inspect(engine)
                return {t: {c["name"] for c in inspector.get_check_constraints(t)} for t in CONSTRAINTS}

            assert checks() == CONSTRAINTS
            command.downgrade(cfg, "0006")
            assert checks() == {t: set() for t in CONSTRAINTS}
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO deployments (filename, deployed_by, deployed_at, outcome) "
                        "VALUES ('x.bpmn', 'analyst', now(), 'new-version')"
                    )
                )
            with pytest.raises(IntegrityError, match="ck_deployments_outcome"):
                command.upgrade(cfg, "head")
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0006"
            assert checks() == {t: set() for t in CONSTRAINTS}  # one transaction: nothing was added
            with engine.begin() as conn:
                conn.execute(delete(Deployment).where(Deployment.outcome == "new-version"))
            command.upgrade(cfg, "head")
            assert checks() == CONSTRAINTS
            assert postgres_rows(engine) == before
        finally:
            engine.dispose()


def postgres_rows(engine) -> dict:
    with engine.connect() as conn:
        return {
            table.name: conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            for table in Base.metadata.sorted_tables
        }
