"""a partial index of the webhook deliveries still open (pending, failed) by invoice: the worker asks it whether an
earlier delivery holds an invoice's next one back (without it PostgreSQL scanned every open delivery per row)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OPEN = "status IN ('pending', 'failed')"


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_open",
        "webhook_deliveries",
        ["invoice_id", "id"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_open", table_name="webhook_deliveries")
