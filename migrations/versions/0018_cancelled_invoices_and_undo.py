"""the remarks given at Cancel Invoice are kept on the invoice (Cancelled Invoice lists them), and a request says
what it asks for: to cancel the invoice or to undo its cancellation

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("cancel_remarks", sa.Text(), nullable=True))
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="cancel"))
        batch.create_check_constraint("ck_cancellation_requests_kind", "kind IN ('cancel', 'undo')")


def downgrade() -> None:
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.drop_constraint("ck_cancellation_requests_kind", type_="check")
        batch.drop_column("kind")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("cancel_remarks")
