"""DATABASE_URL as hosting providers print it: `postgresql://…` and `postgres://…` mean the installed psycopg 3."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from engine.db import default_url, make_engine, normalise_url

TEST_DB = os.environ.get("TEST_DB", "sqlite")


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("postgresql://u:p@db.example:5432/clinic", "postgresql+psycopg://u:p@db.example:5432/clinic"),
        (
            "postgres://u:p@db.example/clinic?sslmode=require",
            "postgresql+psycopg://u:p@db.example/clinic?sslmode=require",
        ),
        ("postgresql+psycopg://u@db/clinic", "postgresql+psycopg://u@db/clinic"),
        ("sqlite:////var/lib/clinic/clinic.db", "sqlite:////var/lib/clinic/clinic.db"),
    ],
)
def test_the_forms_people_paste_mean_the_installed_driver(given, meant):
    assert normalise_url(given) == meant


def test_database_url_from_the_environment_is_normalised(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", " postgres://u@db/clinic ")
    assert default_url(str(tmp_path)) == "postgresql+psycopg://u@db/clinic"
    monkeypatch.delenv("DATABASE_URL")
    assert default_url(str(tmp_path)).startswith("sqlite:///")


@pytest.mark.skipif(TEST_DB != "postgres", reason="TEST_DB=postgres runs it")
@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_a_bare_postgres_url_connects_with_psycopg_3(database_url, scheme):
    bare = make_url(database_url).set(drivername=scheme).render_as_string(hide_password=False)
    engine = make_engine(bare)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


@pytest.mark.skipif(TEST_DB != "postgres", reason="TEST_DB=postgres runs it")
def test_the_cli_takes_a_postgres_url_as_printed_by_a_host(database_url, tmp_path):
    bare = make_url(database_url).set(drivername="postgres").render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": bare, "INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "migrate"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "No module named psycopg2" not in done.stderr
    assert "Database is at the latest schema" in done.stdout
