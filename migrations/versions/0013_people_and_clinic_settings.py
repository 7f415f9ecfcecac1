"""people as administrators manage them (email, one-time passwords, last login; usernames unique whatever
their case) and the clinic's locale

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email", sa.String(254), nullable=True))
    op.add_column(
        "users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("last_login_at", sa.DateTime(), nullable=True))
    op.create_index("uq_users_username_lower", "users", [sa.text("lower(username)")], unique=True)
    op.add_column("clinics", sa.Column("locale", sa.String(20), nullable=False, server_default="en_US"))


def downgrade() -> None:
    op.drop_column("clinics", "locale")
    op.drop_index("uq_users_username_lower", table_name="users")
    op.drop_column("users", "last_login_at")
    op.drop_column("users", "must_change_password")
    op.drop_column("users", "email")
