"""invoices carry what the billing system says of them: payment status, insurance claim status, advance applied

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("payment_status", sa.String(20), nullable=False, server_default="unpaid"))
        batch.add_column(sa.Column("claim_status", sa.String(20), nullable=False, server_default="none"))
        batch.add_column(sa.Column("advance_applied_cents", sa.BigInteger(), nullable=False, server_default="0"))
        batch.create_check_constraint(
            "ck_invoices_payment_status", "payment_status IN ('unpaid', 'partially_paid', 'paid')"
        )
        batch.create_check_constraint("ck_invoices_claim_status", "claim_status IN ('none', 'submitted', 'accepted')")


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint("ck_invoices_claim_status", type_="check")
        batch.drop_constraint("ck_invoices_payment_status", type_="check")
        batch.drop_column("advance_applied_cents")
        batch.drop_column("claim_status")
        batch.drop_column("payment_status")
