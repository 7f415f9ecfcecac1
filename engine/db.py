"""The one place that knows DATABASE_URL: engine and session factory for SQLite and PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_FILE = "clinic.db"


def normalise_url(url: str) -> str:
    """`postgresql://…` and `postgres://…` (as hosting providers print them) mean the installed psycopg 3 driver.

    SQLAlchemy reads a bare `postgresql://` as psycopg2, which is not installed; `postgres://` it does not
    know at all. An explicit driver (`postgresql+psycopg://`, `sqlite://`) is kept as written.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def default_url(instance_path: str) -> str:
    """DATABASE_URL from the environment, else a SQLite file in the instance folder."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return normalise_url(url)
    os.makedirs(instance_path, exist_ok=True)
    return f"sqlite:///{os.path.join(instance_path, DEFAULT_SQLITE_FILE)}"


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions.

    BEGIN IMMEDIATE is SQLAlchemy's documented pysqlite recipe: a writer takes the write lock when the
    transaction starts, so two workers wait for each other instead of failing with "database is locked".
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


# Writers of one SQLite file take turns on an OS file lock beside it (flock on "<file>-writers") before BEGIN
# IMMEDIATE: a writer that must wait sleeps in the kernel and is woken the moment the holder lets go, where
# SQLite's busy handler would poll with growing sleeps (up to 100 ms each) and let the CPU idle. The lock goes
# with the pooled connection's transaction: released when the connection returns to the pool (after COMMIT or
# ROLLBACK), and by the operating system when a process dies (kill -9 leaves no lock behind). SQLite's own
# locking still guarantees correctness; the file lock only orders the writers that use it.
_WRITER_FD, _WRITER_HELD = "writer_lock_fd", "writer_lock_held"
_held_by_thread: set[tuple[str, int]] = set()


def _writers_lock_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + "-writers"


def _take_turn(conn, lock_path: str) -> None:
    key = (lock_path, threading.get_ident())
    if key in _held_by_thread:
        raise RuntimeError(
            f"this thread already has a write transaction open on {lock_path[: -len('-writers')]}: a second one "
            "would wait for the first forever; end the first unit of work before beginning another"
        )
    fcntl.flock(conn.info[_WRITER_FD], fcntl.LOCK_EX)
    conn.info[_WRITER_HELD] = key
    _held_by_thread.add(key)


def _end_turn(info: dict) -> None:
    key = info.pop(_WRITER_HELD, None)
    if key is not None:
        _held_by_thread.discard(key)
        fcntl.flock(info[_WRITER_FD], fcntl.LOCK_UN)


def _configure_sqlite(engine: Engine) -> None:
    lock_path = _writers_lock_path(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        if lock_path is not None:
            record.info[_WRITER_FD] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE" and lock_path is not None and _WRITER_HELD not in conn.info:
            _take_turn(conn, lock_path)
        conn.exec_driver_sql(f"BEGIN {mode}")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record):
        _end_turn(record.info)

    @event.listens_for(engine, "close")
    def _on_close(_dbapi_connection, record):
        _end_turn(record.info)
        fd = record.info.pop(_WRITER_FD, None)
        if fd is not None:
            os.close(fd)


def make_session_factory(engine: Engine, runtime: object | None = None) -> sessionmaker[Session]:
    """Sessions of one app or CLI process; each carries the process's workflow runtime in `Session.info`,
    so a use case runs its workflows with the runtime built at start-up (workflow.runtime.runtime_of)."""
    return sessionmaker(engine, expire_on_commit=False, info={"runtime": runtime} if runtime is not None else {})


@contextmanager
def unit_of_work(factory: sessionmaker[Session], read_only: bool = False) -> Iterator[Session]:
    """One user action = one transaction: commit at the end, roll back on any exception.

    A read-only unit on SQLite begins DEFERRED, so pages that only read never wait for the write lock.
    """
    if not read_only:
        with factory.begin() as session:
            yield session
        return
    bind = factory.kw["bind"].execution_options(sqlite_begin="DEFERRED")
    with factory(bind=bind) as session, session.begin():
        yield session


# SQLite keeps no statistics of its own (PostgreSQL's autovacuum analyzes as tables grow): without them its query
# planner guesses every index equally selective, and e.g. filters Financial Approval by invoice number by walking
# all of a clinic's waiting requests instead of reading the few matching invoices. ANALYZE gives it the sizes;
# analysis_limit keeps it to a fraction of a second on large tables (SQLite's own advice for applications).
STATISTICS_EVERY = 3600.0  # seconds between the worker's refreshes
_statistics_done_at: float | None = None


def refresh_statistics(engine: Engine) -> bool:
    """SQLite: ANALYZE the app's tables now (the worker does it when it starts and once an hour); PostgreSQL:
    nothing to do. True when it ran. Connections opened afterwards plan with the new statistics.

    Full-text tables' shadow tables are left out: FTS5 queries them by key, and statistics taken while they were
    small would make its planner scan them as they grow (inserting invoices slowed down sevenfold)."""
    if engine.dialect.name != "sqlite":
        return False
    with engine.connect() as conn:
        tables = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").all()
        virtual = [name for name, sql in tables if (sql or "").upper().startswith("CREATE VIRTUAL TABLE")]
        names = [name for name, _sql in tables]
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        for name in names:
            if name.startswith("sqlite_") or any(name == v or name.startswith(f"{v}_") for v in virtual):
                continue
            conn.exec_driver_sql(f'ANALYZE "{name}"')
        conn.commit()
    return True


def keep_statistics(factory: sessionmaker[Session], clock=time.monotonic) -> int:
    """The worker's job: refresh SQLite's statistics once every STATISTICS_EVERY seconds (1 when it did)."""
    global _statistics_done_at  # noqa: PLW0603 - one worker process, one schedule
    now = clock()
    if _statistics_done_at is not None and now - _statistics_done_at < STATISTICS_EVERY:
        return 0
    _statistics_done_at = now
    return int(refresh_statistics(factory.kw["bind"]))
