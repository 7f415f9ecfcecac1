"""invoices keep the cancellation blockers' verdict: blocked, the message to read, and the process version whose
table gave it (empty until checked: `python -m engine.cli migrate` checks every unchecked invoice)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("blocked", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("blocked_message", sa.String(1000), nullable=True))
        batch.add_column(sa.Column("blockers_version_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_invoices_blockers_version_id", "process_versions", ["blockers_version_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint("fk_invoices_blockers_version_id", type_="foreignkey")
        batch.drop_column("blockers_version_id")
        batch.drop_column("blocked_message")
        batch.drop_column("blocked")
