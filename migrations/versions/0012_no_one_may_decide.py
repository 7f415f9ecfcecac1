"""running instances whose waiting step nobody may take are listed in no_one_may_decide

The instances already waiting are checked here, by the rule as it was when this revision was made
(engine.instances.deciders holds the living copy): a waiting step is taken by an active user holding one of its
roles in the clinic; on a Financial Approval step, not by anyone who completed a step of the instance.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections import defaultdict
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _stuck_instances(connection) -> list[tuple[int, int]]:
    ready = connection.execute(
        sa.text(
            "SELECT t.instance_id, t.clinic_id, t.roles, t.screen FROM user_tasks t "
            "JOIN process_instances i ON i.id = t.instance_id WHERE t.state = 'ready' AND i.status = 'running'"
        )
    ).all()
    if not ready:
        return []
    held = defaultdict(set)
    for clinic_id, role, user_id in connection.execute(
        sa.text(
            "SELECT g.clinic_id, g.role, g.user_id FROM role_grants g JOIN users u ON u.id = g.user_id "
            "WHERE u.active AND g.clinic_id IS NOT NULL"
        )
    ):
        held[clinic_id, role].add(user_id)
    done = defaultdict(set)
    for instance_id, user_id in connection.execute(
        sa.text("SELECT instance_id, completed_by_id FROM user_tasks WHERE state = 'completed'")
    ):
        if user_id is not None:
            done[instance_id].add(user_id)
    stuck = {}
    for instance_id, clinic_id, roles, screen in ready:
        able = set().union(*(held[clinic_id, role] for role in roles.split(",") if role))
        if screen == "financial_approval":
            able -= done[instance_id]
        if not able:
            stuck[instance_id] = clinic_id
    return sorted(stuck.items())


def upgrade() -> None:
    table = op.create_table(
        "no_one_may_decide",
        sa.Column("instance_id", sa.Integer(), sa.ForeignKey("process_instances.id"), primary_key=True),
        sa.Column("clinic_id", sa.Integer(), sa.ForeignKey("clinics.id"), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_no_one_may_decide_clinic_id", "no_one_may_decide", ["clinic_id"])
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    rows = [{"instance_id": i, "clinic_id": c, "since": now} for i, c in _stuck_instances(op.get_bind())]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.drop_index("ix_no_one_may_decide_clinic_id", table_name="no_one_may_decide")
    op.drop_table("no_one_may_decide")
