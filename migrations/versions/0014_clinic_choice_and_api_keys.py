"""a login session and an API token act in one clinic (people with roles in several choose); API keys for a
clinic's systems: named, optional expiry, last use

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_web_sessions_clinic_id", "clinics", ["clinic_id"], ["id"])
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("clinic_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_api_tokens_clinic_id", "clinics", ["clinic_id"], ["id"])
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="token"))
        batch.add_column(sa.Column("name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("last_used_at", sa.DateTime(), nullable=True))
        batch.alter_column("expires_at", existing_type=sa.DateTime(), nullable=True)
        batch.create_check_constraint("ck_api_tokens_kind", "kind IN ('token', 'key')")


def downgrade() -> None:
    op.execute("DELETE FROM api_tokens WHERE kind = 'key'")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint("ck_api_tokens_kind", type_="check")
        batch.alter_column("expires_at", existing_type=sa.DateTime(), nullable=False)
        batch.drop_column("last_used_at")
        batch.drop_column("name")
        batch.drop_column("kind")
        batch.drop_constraint("fk_api_tokens_clinic_id", type_="foreignkey")
        batch.drop_column("clinic_id")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_constraint("fk_web_sessions_clinic_id", type_="foreignkey")
        batch.drop_column("clinic_id")
