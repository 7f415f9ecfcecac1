"""user tasks by who completed them: the Financial Approval queue leaves out what the user already decided

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_user_tasks_completed_by", "user_tasks", ["completed_by_id", "instance_id"])


def downgrade() -> None:
    op.drop_index("ix_user_tasks_completed_by", table_name="user_tasks")
