"""timers: the waiting timer events of instances (due time, status, retries), the earliest one on the instance,
the clinic's Reminder after / Escalate after durations, and when a request became overdue

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("element_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interrupting", sa.Boolean(), nullable=False),
        sa.Column("attached_to", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("fired_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('waiting', 'fired', 'cancelled', 'failed')", name="ck_timers_status"),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"]),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "task_id"),
    )
    op.create_index("ix_timers_instance_id", "timers", ["instance_id"])
    op.create_index("ix_timers_due", "timers", ["status", "next_attempt_at"])
    with op.batch_alter_table("process_instances") as batch:
        batch.add_column(sa.Column("next_timer_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("clinics") as batch:
        batch.add_column(sa.Column("reminder_after", sa.String(length=40), server_default="P1D", nullable=False))
        batch.add_column(sa.Column("escalate_after", sa.String(length=40), server_default="P3D", nullable=False))
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.add_column(sa.Column("overdue_since", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.drop_column("overdue_since")
    with op.batch_alter_table("clinics") as batch:
        batch.drop_column("escalate_after")
        batch.drop_column("reminder_after")
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_column("next_timer_at")
    op.drop_index("ix_timers_due", table_name="timers")
    op.drop_index("ix_timers_instance_id", table_name="timers")
    op.drop_table("timers")
