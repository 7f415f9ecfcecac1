"""instance monitoring: what each instance waits for, the admin lists' indexes, a clinic's own process

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN (no table rebuild), so existing SQLite data and foreign keys stay put.
    op.add_column("process_instances", sa.Column("waiting_element", sa.String(length=100), nullable=True))
    op.add_column("process_instances", sa.Column("waiting_task", sa.String(length=200), nullable=True))
    op.add_column("process_instances", sa.Column("waiting_roles", sa.String(length=200), nullable=True))
    op.add_column("process_instances", sa.Column("waiting_since", sa.DateTime(), nullable=True))
    op.add_column("clinics", sa.Column("process_id", sa.String(length=100), nullable=True))
    op.drop_index("ix_instances_clinic_status", table_name="process_instances")
    op.create_index("ix_instances_clinic_status", "process_instances", ["clinic_id", "status", "waiting_since"])
    op.create_index("ix_instances_clinic_waiting", "process_instances", ["clinic_id", "waiting_since"])
    op.create_index(
        "ix_instances_clinic_element", "process_instances", ["clinic_id", "waiting_element", "waiting_since"]
    )
    op.create_index("ix_instances_clinic_started", "process_instances", ["clinic_id", "started_at"])


def downgrade() -> None:
    for name in ("ix_instances_clinic_started", "ix_instances_clinic_element", "ix_instances_clinic_waiting"):
        op.drop_index(name, table_name="process_instances")
    op.drop_index("ix_instances_clinic_status", table_name="process_instances")
    op.create_index("ix_instances_clinic_status", "process_instances", ["clinic_id", "status"])
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("process_id")
    with op.batch_alter_table("process_instances") as batch:
        for column in ("waiting_since", "waiting_roles", "waiting_task", "waiting_element"):
            batch.drop_column(column)
