"""a request may be withdrawn by its requester (Withdraw Request): the status CHECKs of requests and of the
invoice's approval status name 'withdrawn'

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

OLD = "'requested', 'approved', 'rejected', 'completed', 'terminated'"
NEW = OLD + ", 'withdrawn'"


def _set(statuses: str) -> None:
    with op.batch_alter_table("cancellation_requests") as batch:
        batch.drop_constraint("ck_cancellation_requests_status", type_="check")
        batch.create_check_constraint("ck_cancellation_requests_status", f"status IN ({statuses})")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_constraint("ck_invoices_approval_status", type_="check")
        batch.create_check_constraint(
            "ck_invoices_approval_status", f"approval_status IS NULL OR approval_status IN ({statuses})"
        )


def upgrade() -> None:
    _set(NEW)


def downgrade() -> None:
    _set(OLD)
