"""Issue 16 (2): on SQLite, writers take turns on a file lock beside the database before BEGIN IMMEDIATE, so a
waiting writer is woken when the holder commits instead of sleeping in SQLite's busy handler. What a user would
notice: the second writer goes on once the first is done, with both writes kept; a unit of work begun inside
another on the same thread is refused at once (it would wait for itself); a killed writer leaves no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from sqlalchemy import func, select

from engine import db
from engine.db import make_engine, make_session_factory, unit_of_work
from engine.models import AuditEvent

pytestmark = pytest.mark.skipif(os.environ.get("TEST_DB", "sqlite") != "sqlite", reason="SQLite's writers only")


def _audit(session, note: str) -> None:
    session.add(AuditEvent(action="probe", details=f'{{"note": "{note}"}}'))


def _notes(factory) -> list[str]:
    with unit_of_work(factory, read_only=True) as s:
        return [
            e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "probe").order_by(AuditEvent.id))
        ]


def test_a_second_writer_waits_for_the_first_and_then_goes_on(database_url):
    factory = make_session_factory(make_engine(database_url))
    holding, release, second_done = threading.Event(), threading.Event(), threading.Event()

    def first():
        with unit_of_work(factory) as s:
            _audit(s, "first")
            s.flush()
            holding.set()
            release.wait(30)

    def second():
        holding.wait(30)
        with unit_of_work(factory) as s:
            _audit(s, "second")
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    holding.wait(30)
    assert not second_done.wait(0.5)  # the first holds the turn: the second waits
    release.set()
    for t in threads:
        t.join(30)
    assert second_done.is_set()
    assert _notes(factory) == ['{"note": "first"}', '{"note": "second"}']
    factory.kw["bind"].dispose()


def test_a_write_unit_begun_inside_another_on_the_same_thread_is_refused_at_once(database_url):
    factory = make_session_factory(make_engine(database_url))
    with pytest.raises(RuntimeError, match="already has a write transaction open"):
        with unit_of_work(factory) as outer:
            _audit(outer, "outer")
            outer.flush()
            with unit_of_work(factory) as inner:
                _audit(inner, "inner")
    assert _notes(factory) == []  # both rolled back: nothing written
    with unit_of_work(factory) as s:  # and the turn was given back
        _audit(s, "after")
    assert _notes(factory) == ['{"note": "after"}']
    factory.kw["bind"].dispose()


HOLDER = """
import sys, time
from engine import db
from engine.db import make_engine, make_session_factory, unit_of_work
from engine.models import AuditEvent
factory = make_session_factory(make_engine(sys.argv[1]))
with unit_of_work(factory) as s:
    s.add(AuditEvent(action="probe", details='{"note": "killed"}'))
    s.flush()
    print("holding", flush=True)
    time.sleep(600)
"""


def test_a_writer_killed_while_it_holds_the_turn_leaves_no_lock_and_no_write(database_url):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
        factory = make_session_factory(make_engine(database_url))
        with unit_of_work(factory) as s:  # would wait forever if the killed writer's turn were still held
            _audit(s, "after the kill")
        with unit_of_work(factory, read_only=True) as s:
            assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "probe")) == 1
        assert _notes(factory) == ['{"note": "after the kill"}']
        factory.kw["bind"].dispose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        holder.stdout.close()


def test_sqlite_plans_with_statistics_refreshed_by_the_worker_once_an_hour(demo, session_factory):
    """SQLite keeps no statistics of its own: the worker's keep_statistics runs ANALYZE when it starts and then
    once an hour (engine.db). With them the Financial Approval number filter reads the matching invoices, not
    every waiting request of the clinic (`make bench`: 25 ms to 3 ms on 40,000 instances). The full-text index's
    shadow tables are left out (statistics of a small index would make FTS5 scan it as it grows)."""
    for number in demo.invoice_numbers("NS")[:3]:
        demo.request("billing", number)
    clock = iter([1000.0, 1000.0 + 60, 1000.0 + db.STATISTICS_EVERY + 1])
    db._statistics_done_at = None
    assert db.keep_statistics(session_factory, clock=lambda: next(clock)) == 1
    assert db.keep_statistics(session_factory, clock=lambda: next(clock)) == 0  # a minute later: not again
    assert db.keep_statistics(session_factory, clock=lambda: next(clock)) == 1  # an hour later: again
    with session_factory.kw["bind"].connect() as conn:
        analyzed = {row[0] for row in conn.exec_driver_sql("SELECT tbl FROM sqlite_stat1")}
    assert {"invoices", "cancellation_requests", "user_tasks"} <= analyzed
    assert not {t for t in analyzed if t.startswith("invoice_search")}
