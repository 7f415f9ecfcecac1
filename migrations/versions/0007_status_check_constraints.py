"""CHECK constraints on the status, state, screen and outcome columns: a misspelt word can no longer be stored

The lists are written out here as they stand at this revision (engine/vocabulary.py builds the models' copies;
tests/test_schema_constraints.py checks both agree). A later change of a list needs a migration of its own.
Rows that already hold another word make the upgrade fail, and nothing is changed.

PostgreSQL adds each constraint with ALTER TABLE. SQLite cannot add a CHECK to a table, so batch mode rebuilds
the five tables (copy, drop, rename); audit_events, with its triggers, is not touched. Around each rebuild:
- foreign keys are off for the whole run (migrations/env.py; invoices and process_instances are referenced by
  rows of other tables, and dropping the old table would fail or lose them with foreign keys on), and env.py
  runs PRAGMA foreign_key_check before each revision commits;
- the table's indexes are dropped first and created again afterwards from their own stored SQL, unchanged:
  batch reflection would recreate them from what SQLAlchemy reflects, and that loses `started_at DESC` in
  ix_instances_clinic_status_order (and may skip expression or partial indexes). The UNIQUE constraints are
  part of the table and go with it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from collections.abc import Iterator
from contextlib import contextmanager

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REQUEST_STATUSES = "'requested', 'approved', 'rejected', 'completed', 'terminated'"

# table -> [(constraint name, condition)]
CHECKS = {
    "process_instances": [
        ("ck_process_instances_status", "status IN ('running', 'incident', 'completed', 'terminated')"),
    ],
    "cancellation_requests": [
        ("ck_cancellation_requests_status", f"status IN ({REQUEST_STATUSES})"),
    ],
    "invoices": [
        ("ck_invoices_status", "status IN ('open', 'cancelled')"),
        ("ck_invoices_approval_status", f"approval_status IS NULL OR approval_status IN ({REQUEST_STATUSES})"),
    ],
    "user_tasks": [
        ("ck_user_tasks_state", "state IN ('ready', 'completed', 'cancelled')"),
        ("ck_user_tasks_screen", "screen IN ('invoice', 'financial_approval')"),
    ],
    "deployments": [
        ("ck_deployments_outcome", "outcome IN ('new_version', 'unchanged')"),
    ],
}


def upgrade() -> None:
    for table, checks in CHECKS.items():
        with _indexes_kept(table), op.batch_alter_table(table) as batch:
            for name, condition in checks:
                batch.create_check_constraint(name, condition)


def downgrade() -> None:
    for table, checks in reversed(CHECKS.items()):
        with _indexes_kept(table), op.batch_alter_table(table) as batch:
            for name, _condition in reversed(checks):
                batch.drop_constraint(name, type_="check")


@contextmanager
def _indexes_kept(table: str) -> Iterator[None]:
    """On SQLite: drop the table's own indexes before a batch rebuild and create them again, as they were, after.

    Indexes without SQL (sqlite_autoindex_*, from UNIQUE constraints) belong to the table definition and are
    rebuilt with it. If the rebuild fails, the revision's transaction rolls back, dropped indexes included.
    Elsewhere batch mode alters the table in place, and nothing is done.
    """
    bind = op.get_bind()
    saved = []
    if bind.dialect.name == "sqlite":
        saved = bind.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL "
            "ORDER BY name",
            (table,),
        ).all()
        for name, _sql in saved:
            op.drop_index(name, table_name=table)
    yield
    for _name, sql in saved:
        bind.exec_driver_sql(sql)
