"""idempotent responses keep a fingerprint of the first request's body: the same key with another body is refused

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("idempotent_responses") as batch:
        batch.add_column(sa.Column("request_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotent_responses") as batch:
        batch.drop_column("request_hash")
