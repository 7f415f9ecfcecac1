"""Issue 14: two worker processes against one PostgreSQL with 10,000 due timers fire each exactly once.

The instances run tests/processes/timer_probe.bpmn (one waiting step whose timer ends the instance, no script), so
that 10,000 firings take about a minute; what is under test is how workers share due timers (row locks, SKIP
LOCKED), which is the same for every diagram. One instance is started through the engine and copied in SQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text, update

from engine.db import unit_of_work
from engine.models import Base, Clinic
from engine.usecases.deployments import deploy_processes

TIMERS = 10_000
TEST_PROCESSES = Path(__file__).parent / "processes"

pytestmark = pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="TEST_DB=postgres runs it")


def _copy_rows(conn, table: str, template_instance: int, copies: int, columns: dict[str, str]) -> None:
    """Insert `copies` copies of the template instance's rows of `table` (copy g = 1..copies), with fresh ids and
    the given column expressions (SQL over the template row `t` and the copy's number `g`)."""
    first, last, top = conn.execute(
        text(f"SELECT min(id), max(id), (SELECT max(id) FROM {table}) FROM {table} WHERE {columns.pop('_of')} = :i"),
        {"i": template_instance},
    ).one()
    stride = last - first + 1
    names = [c.name for c in Base.metadata.tables[table].columns]
    values = {"id": f"{top} + (g - 1) * {stride} + (t.id - {first}) + 1", **columns}
    conn.execute(
        text(
            f"INSERT INTO {table} ({', '.join(names)}) "
            f"SELECT {', '.join(values.get(n, f't.{n}') for n in names)} "
            f"FROM {table} t CROSS JOIN generate_series(1, :copies) AS g WHERE t.id BETWEEN :first AND :last"
        ),
        {"copies": copies, "first": first, "last": last},
    )
    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))


def _instances_waiting_on_timers(demo, session_factory, database_url, count: int) -> None:
    with unit_of_work(session_factory) as session:
        deploy_processes(session, TEST_PROCESSES)
        session.execute(update(Clinic).where(Clinic.name == "Northside Clinic").values(process_id="timer_probe"))
    demo.request("billing", demo.invoice_numbers("NS")[0])
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            instance, invoice, top_instance, top_invoice = conn.execute(
                text("SELECT p.id, p.invoice_id, (SELECT max(id) FROM process_instances), "
                     "(SELECT max(id) FROM invoices) FROM process_instances p")
            ).one()  # fmt: skip
            new_invoice = f"{top_invoice} + g"
            new_instance = f"{top_instance} + g"
            _copy_rows(conn, "invoices", invoice, count - 1,
                       {"_of": "id", "id": new_invoice, "number": "'TP-' || lpad(g::text, 5, '0')"})  # fmt: skip
            _copy_rows(conn, "process_instances", instance, count - 1,
                       {"_of": "id", "id": new_instance, "invoice_id": new_invoice})  # fmt: skip
            for table in ("user_tasks", "timers"):
                _copy_rows(conn, table, instance, count - 1,
                           {"_of": "instance_id", "instance_id": new_instance, "invoice_id": new_invoice})  # fmt: skip
            conn.execute(text("UPDATE timers SET due_at = now() - interval '1 minute', next_attempt_at = now() - "
                              "interval '1 minute'"))  # fmt: skip
            conn.execute(text("UPDATE process_instances SET next_timer_at = now() - interval '1 minute'"))
    finally:
        engine.dispose()


def _wait_until_fired(engine, workers) -> None:
    try:
        with engine.connect() as conn:
            deadline = time.monotonic() + 900
            while conn.scalar(text("SELECT count(*) FROM timers WHERE status = 'waiting'")) and (
                time.monotonic() < deadline
            ):
                conn.rollback()
                time.sleep(1)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(30)


def test_two_worker_processes_fire_10000_due_timers_each_exactly_once(
    demo, session_factory, database_url, tmp_path, ledger
):  # ledger: the test processes' folder has a diagram that posts to it
    _instances_waiting_on_timers(demo, session_factory, database_url, TIMERS)
    env = os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path), "WORKER_POLL_SECONDS": "0.2"}
    command = [sys.executable, "-m", "engine.cli", "worker"]
    engine = create_engine(database_url)
    logs = [tmp_path / f"worker{n}.log" for n in (1, 2)]
    with ExitStack() as files:
        outputs = [files.enter_context(log.open("w")) for log in logs]
        workers = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=out) for out in outputs]
        _wait_until_fired(engine, workers)
    try:
        with engine.connect() as conn:
            assert dict(conn.execute(text("SELECT status, count(*) FROM timers GROUP BY status")).all()) == {
                "fired": TIMERS
            }
            fired_per_instance = conn.execute(
                text("SELECT n, count(*) FROM (SELECT p.id, count(a.id) AS n FROM process_instances p LEFT JOIN "
                     "audit_events a ON a.instance_id = p.id AND a.action = 'timer_fired' GROUP BY p.id) c GROUP BY n")
            ).all()  # fmt: skip
            assert dict(fired_per_instance) == {1: TIMERS}  # every instance's timer fired once: none twice, none lost
            assert dict(conn.execute(text("SELECT status, count(*) FROM process_instances GROUP BY status")).all()) == {
                "completed": TIMERS
            }
            assert conn.scalar(text("SELECT count(*) FROM user_tasks WHERE state = 'ready'")) == 0
    finally:
        engine.dispose()
    assert all(worker.returncode == 0 for worker in workers), [log.read_text()[-2000:] for log in logs]
    by_worker = [sum(int(n) for n in re.findall(r"timers fired: (\d+)", log.read_text())) for log in logs]
    assert sum(by_worker) == TIMERS and all(by_worker), by_worker  # both fired, together each timer once
