"""instance list by status in its display order (found by `make bench`)

The Process Instances list filtered by a status orders by waiting_since (nulls last), started_at desc, id desc.
With only (clinic_id, status, waiting_since), a status where nothing waits (Completed: 29,000 rows in a clinic
of 40,000) joins and sorts every row to show 25: 85 ms on SQLite, 110 ms on PostgreSQL. This index gives the
rows in that order, so the page reads 25 rows (0.1 to 0.3 ms). It makes ix_instances_clinic_status redundant.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_instances_clinic_status_order",
        "process_instances",
        ["clinic_id", "status", "waiting_since", sa.text("started_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_instances_clinic_status_order", table_name="process_instances")
