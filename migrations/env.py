"""Alembic environment: the URL comes from the caller (engine.schema) or DATABASE_URL.

SQLite: batch migrations rebuild a table (copy, drop, rename). With foreign keys on, dropping a table that other
rows reference fails (or would lose them), so, as Alembic's documentation advises, foreign keys are off while
migrations run. PRAGMA foreign_keys cannot change inside a transaction, so it is switched on the raw connection
before the first one starts and back afterwards. Instead, PRAGMA foreign_key_check runs before each revision
commits: a broken reference fails that revision, which then rolls back.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.exc import SAWarning

from engine.db import make_engine
from engine.models import Base

config = context.config
target_metadata = Base.metadata

# A batch migration reflects the tables it rebuilds and those they reference; SQLite's reflection skips
# expression indexes (users' lower(username)). Only tables a revision rebuilds lose them, and none rebuilds
# users: the warning says nothing to act on.
warnings.filterwarnings("ignore", message="Skipped unsupported reflection of expression-based index", category=SAWarning)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_migrations(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run_migrations(conn)
    finally:
        engine.dispose()  # also when a migration fails: no connection is left open


def _run_migrations(conn: Connection) -> None:
    sqlite = conn.dialect.name == "sqlite"
    with _sqlite_foreign_keys_off(conn) if sqlite else nullcontext():
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            render_as_batch=True,
            on_version_apply=[_check_foreign_keys] if sqlite else [],
        )
        with context.begin_transaction():
            context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    raw = conn.connection.dbapi_connection  # no BEGIN: SQLite ignores the pragma inside a transaction
    was_on = raw.execute("PRAGMA foreign_keys").fetchone()[0]
    raw.execute("PRAGMA foreign_keys=OFF")
    if raw.execute("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("SQLite migrations need a connection outside a transaction to switch foreign keys off")
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()  # only Alembic's read of the version table, if nothing ran: revisions commit their own
        if was_on:
            raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(*, ctx, step, **_kw) -> None:
    """Called inside each revision's transaction, after its changes: refuse to commit broken references."""
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        direction = "upgrade" if step.is_upgrade else "downgrade"
        raise RuntimeError(
            f"PRAGMA foreign_key_check after the {direction} of revision {step.up_revision_id} found broken "
            f"references (table, rowid, parent, foreign key id): {[tuple(row) for row in broken[:20]]}"
        )


run_migrations_online()
