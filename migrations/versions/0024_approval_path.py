"""what the approval policy decided, stored on the request when it first waits for a decision (approvals needed)
and the Financial Approval steps still ahead (their lanes' words), so lists show "Needs 2 approvals: ..." from
the start without loading workflows

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.add_column(sa.Column("approvals_needed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("approvals_left", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("approval_path", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.drop_column("approval_path")
        batch.drop_column("approvals_left")
        batch.drop_column("approvals_needed")
