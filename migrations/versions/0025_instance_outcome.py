"""how an ended instance ended (Cancelled, Rejected, Withdrawn, Terminated, Undone, Completed) and a terminated
one's reason, stored when it ends so that Process Instances lists them without loading workflows; filled for the
instances that ended before, from their requests, invoices and audit trail

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

OUTCOMES = "'cancelled', 'rejected', 'withdrawn', 'terminated', 'undone', 'completed'"


def upgrade() -> None:
    with op.batch_alter_table("process_instances") as batch:
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("ended_reason", sa.Text(), nullable=True))
        batch.create_check_constraint("ck_process_instances_outcome", f"outcome IS NULL OR outcome IN ({OUTCOMES})")
    request = "SELECT {col} FROM cancellation_requests r WHERE r.instance_id = process_instances.id"
    op.execute("UPDATE process_instances SET outcome = 'terminated' WHERE status = 'terminated'")
    reason = "CAST(a.details AS json) ->> 'reason'"
    if op.get_bind().dialect.name == "sqlite":
        reason = "json_extract(a.details, '$.reason')"
    op.execute(
        f"UPDATE process_instances SET ended_reason = (SELECT {reason} FROM audit_events a WHERE a.instance_id = "
        "process_instances.id AND a.action = 'instance_terminated' ORDER BY a.id DESC LIMIT 1) "
        "WHERE status = 'terminated'"
    )
    op.execute(
        "UPDATE process_instances SET outcome = CASE "
        f"WHEN ({request.format(col='r.kind')}) = 'undo' AND ({request.format(col='r.status')}) = 'completed' "
        "THEN 'undone' "
        f"WHEN ({request.format(col='r.status')}) IN ('rejected', 'withdrawn') THEN ({request.format(col='r.status')}) "
        f"WHEN ({request.format(col='r.status')}) = 'completed' THEN 'cancelled' "
        "WHEN (SELECT i.status FROM invoices i WHERE i.id = process_instances.invoice_id) = 'cancelled' "
        "AND NOT EXISTS (SELECT 1 FROM cancellation_requests r WHERE r.instance_id = process_instances.id) "
        "THEN 'cancelled' ELSE 'completed' END WHERE status = 'completed'"
    )


def downgrade() -> None:
    with op.batch_alter_table("process_instances") as batch:
        batch.drop_constraint("ck_process_instances_outcome", type_="check")
        batch.drop_column("ended_reason")
        batch.drop_column("outcome")
