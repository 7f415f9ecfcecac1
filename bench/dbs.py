"""Bench databases: a migrated SQLite file under /tmp, or a PostgreSQL database of its own (dropped after)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from engine.schema import scratch_postgres_database, upgrade

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def postgres_problem(base: str) -> str | None:
    """None when PostgreSQL answers, else why not (one line)."""
    engine = create_engine(base, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means: skip PostgreSQL
        return str(exc).splitlines()[0]
    finally:
        engine.dispose()
    return None


@contextmanager
def sqlite_database() -> Iterator[str]:
    folder = tempfile.mkdtemp(prefix="bench_sqlite_")
    url = f"sqlite:///{folder}/bench.db"
    try:
        upgrade(url)
        yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    with scratch_postgres_database(base, "bench") as url:
        yield url


@contextmanager
def database(kind: str) -> Iterator[str]:
    manager = sqlite_database() if kind == "sqlite" else postgres_database(postgres_base_url())
    with manager as url:
        yield url
