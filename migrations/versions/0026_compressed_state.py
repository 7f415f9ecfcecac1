"""an instance's workflow state is stored zlib-compressed (about a sixth of its JSON text): the column becomes
binary and the stored states are compressed

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

BATCH = 1000
LEVEL = 6  # engine.models.base.CompressedText.LEVEL


def _rewrite(convert) -> None:
    """Every stored state through `convert`, a batch of rows at a time."""
    bind = op.get_bind()
    states = sa.table("process_instances", sa.column("id", sa.Integer), sa.column("state_json"))  # text or bytes
    last = 0
    while True:
        rows = bind.execute(
            sa.select(states.c.id, states.c.state_json).where(states.c.id > last).order_by(states.c.id).limit(BATCH)
        ).all()
        if not rows:
            return
        bind.execute(
            states.update().where(states.c.id == sa.bindparam("row_id")).values(state_json=sa.bindparam("state")),
            [{"row_id": row_id, "state": convert(state)} for row_id, state in rows],
        )
        last = rows[-1][0]


def _as_bytes(value) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE process_instances ALTER COLUMN state_json TYPE bytea USING convert_to(state_json, 'UTF8')"
        )
    else:
        with op.batch_alter_table("process_instances") as batch:
            batch.alter_column("state_json", type_=sa.LargeBinary(), existing_type=sa.Text(), existing_nullable=False)
    _rewrite(lambda state: zlib.compress(_as_bytes(state), LEVEL) if _as_bytes(state)[:1] == b"{" else state)


def _decompressed(state, as_text: bool):
    data = _as_bytes(state)
    data = data if data[:1] == b"{" else zlib.decompress(data)
    return data.decode() if as_text else data


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _rewrite(lambda state: _decompressed(state, as_text=not postgres))  # bytea until the type changes below
    if postgres:
        op.execute(
            "ALTER TABLE process_instances ALTER COLUMN state_json TYPE text USING convert_from(state_json, 'UTF8')"
        )
    else:
        with op.batch_alter_table("process_instances") as batch:
            batch.alter_column("state_json", type_=sa.Text(), existing_type=sa.LargeBinary(), existing_nullable=False)
