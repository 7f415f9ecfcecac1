"""Migration 0007 upgrades databases that hold rows: every row, index, trigger and reference is kept, and a
misspelt word or broken reference already stored makes the upgrade fail and change nothing.

The SQLite tests always run, on files of their own; the PostgreSQL one on a scratch database (TEST_DB=postgres).
"""

from __future__ import annotations

import os
import re
import sqlite3

import pytest
from alembic import command
from schema_rows import CONSTRAINTS, CONSTRAINTS_0007, seed_database, seed_old_sqlite
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from engine.db import make_engine
from engine.models import Base, Deployment, Invoice, UserTask
from engine.schema import alembic_config, scratch_postgres_database

TEST_DB = os.environ.get("TEST_DB", "sqlite")


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
    seed_old_sqlite(path, "0006", tmp_path)
    return path


def test_sqlite_upgrade_keeps_every_row_index_and_reference(sqlite_at_0006):
    cfg = alembic_config(f"sqlite:///{sqlite_at_0006}")
    before = sqlite_state(sqlite_at_0006)
    assert before["revision"] == [("0006",)] and all(before["rows"][t] for t in CONSTRAINTS_0007)
    assert before["rows"]["audit_events"] and before["rows"]["user_tasks"]

    command.upgrade(cfg, "0007")
    after = sqlite_state(sqlite_at_0006)
    assert after["revision"] == [("0007",)]
    for key in ("rows", "indexes", "triggers", "columns", "foreign_keys"):
        assert after[key] == before[key], key
    assert {t: c for t, c in after["checks"].items() if c} == CONSTRAINTS_0007
    rebuilt = set(CONSTRAINTS_0007)
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
    assert {t: c for t, c in again["checks"].items() if c} == CONSTRAINTS_0007


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
        seed_database(url, derived=True)
        engine = make_engine(url)
        try:
            before = postgres_rows(engine)

            def checks():
                inspector = inspect(engine)
                return {t: {c["name"] for c in inspector.get_check_constraints(t)} for t in CONSTRAINTS}

            assert checks() == CONSTRAINTS
            command.downgrade(cfg, "0006")
            assert checks() == {t: set() for t in CONSTRAINTS}
            inspector = inspect(engine)
            # What 0006 can hold survives the round trip; columns added later come back with their defaults.
            kept = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
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
            assert postgres_rows(engine, kept) == postgres_rows_of(before, kept)
        finally:
            engine.dispose()


def postgres_rows(engine, kept: dict[str, set[str]] | None = None) -> dict:
    """Every row as {column: value}; of the derived no_one_may_decide, which instances (migration 0012
    recomputes it, `since` is new). `kept`: only these tables and columns."""
    with engine.connect() as conn:
        rows = {
            table.name: [dict(r._mapping) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }
    rows["no_one_may_decide"] = [{k: r[k] for k in ("instance_id", "clinic_id")} for r in rows["no_one_may_decide"]]
    return rows if kept is None else postgres_rows_of(rows, kept)


def postgres_rows_of(rows: dict, kept: dict[str, set[str]]) -> dict:
    return {t: [{k: v for k, v in r.items() if k in kept[t]} for r in found] for t, found in rows.items() if t in kept}
