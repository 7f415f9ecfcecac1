"""Issue 14 (timers): the worker fires due timers exactly once: its own process, two workers on PostgreSQL, a worker
killed mid-batch, and firings that fail (the batch's others are kept; a firing failing every retry is an incident
that Retry fires)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from helpers import run_together
from sqlalchemy import create_engine, func, select, text
from timer_rows import actions_of, make_due, ready_of, request_of, timers_of

from engine.db import unit_of_work
from engine.models import AuditEvent, Event, ProcessInstance, utcnow
from engine.usecases import timers


def _worker_env(database_url, tmp_path) -> dict:
    return os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path), "WORKER_POLL_SECONDS": "0.2"}


def _wait_for(check, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_the_worker_process_fires_due_timers(demo, database_url, tmp_path, session_factory):
    number = demo.invoice_numbers("NS")[6]
    demo.request("billing", number)
    make_due(session_factory, [number])
    command = [sys.executable, "-m", "engine.cli", "worker"]
    worker = subprocess.Popen(command, env=_worker_env(database_url, tmp_path), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert _wait_for(lambda: ready_of(session_factory, number) == ["Escalated review"])
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(10)
    assert [t.status for t in timers_of(session_factory, number)] == ["fired", "fired"]
    assert actions_of(session_factory, number).count("timer_fired") == 2


@pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="TEST_DB=postgres runs it")
def test_two_workers_fire_each_due_timer_exactly_once(demo, session_factory):
    numbers = demo.invoice_numbers("NS")[:12]
    for number in numbers:
        demo.request("billing", number)
    make_due(session_factory, numbers)
    fired = run_together(lambda: timers.fire_due(session_factory), lambda: timers.fire_due(session_factory))
    assert sum(fired) == 2 * len(numbers) and all(fired)  # both worked, together they fired every timer once
    with unit_of_work(session_factory, read_only=True) as s:
        once = s.execute(
            select(AuditEvent.instance_id, func.count()).where(AuditEvent.action == "timer_fired").group_by(
                AuditEvent.instance_id)
        ).all()  # fmt: skip
        assert sorted(n for _i, n in once) == [2] * len(numbers)
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type.like("%.escalated"))) == len(numbers)
    assert all(ready_of(session_factory, n) == ["Escalated review"] for n in numbers)


@pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="TEST_DB=postgres runs it")
def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(demo, database_url, tmp_path, session_factory):
    numbers = demo.invoice_numbers("NS")[:3]
    for number in numbers:
        demo.request("billing", number)
    make_due(session_factory, numbers, names=("Escalate",))
    env = _worker_env(database_url, tmp_path)
    command = [sys.executable, "-m", "engine.cli", "worker"]
    holder = create_engine(database_url)
    try:
        with holder.connect() as conn:
            # Hold the clinic's event feed: the batch fires its timers, then waits at commit to write the events.
            clinic_id = conn.scalar(text("SELECT clinic_id FROM invoices WHERE number = :n"), {"n": numbers[0]})
            conn.execute(text("SELECT 1 FROM event_feeds WHERE clinic_id = :c FOR UPDATE"), {"c": clinic_id})
            worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                assert _wait_for(lambda: conn.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")) > 0)
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait(10)
            finally:
                worker.kill()
            conn.rollback()
    finally:
        holder.dispose()
    assert all(ready_of(session_factory, n) == ["Review request"] for n in numbers)  # nothing of the batch is kept
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: all(ready_of(session_factory, n) == ["Escalated review"] for n in numbers))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type.like("%.escalated"))) == 3
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "escalated")) == 3


def test_a_firing_that_fails_keeps_the_batchs_other_firings_and_their_events(demo, session_factory):
    good, bad = demo.invoice_numbers("NS")[8:10]
    for number in (good, bad):
        demo.request("billing", number)
    make_due(session_factory, [good], names=("Escalate",), ago=timedelta(minutes=2))
    make_due(session_factory, [bad], names=("Escalate",), ago=timedelta(minutes=1))
    with unit_of_work(session_factory) as s:  # the second one's stored state is broken: loading it fails
        s.get(ProcessInstance, request_of(session_factory, bad).instance_id).state_json = '{"broken": true}'
    batch = timers.fire_batch(session_factory)
    assert (batch.fired, batch.failed) == (1, 1)
    assert ready_of(session_factory, good) == ["Escalated review"]
    failed = next(t for t in timers_of(session_factory, bad) if t.name == "Escalate")
    assert failed.status == "waiting" and failed.attempts == 1 and failed.last_error
    assert failed.next_attempt_at > utcnow()  # tried again later, with backoff
    with unit_of_work(session_factory, read_only=True) as s:
        subjects = s.scalars(select(Event.body).where(Event.type.like("%.escalated"))).all()
    assert len(subjects) == 1 and good in subjects[0]  # the good one's event survived the other's rollback


def test_a_firing_that_keeps_failing_becomes_an_incident_that_retry_fires(demo, session_factory):
    from engine.usecases import instance_admin

    number = demo.invoice_numbers("NS")[10]
    demo.request("billing", number)
    instance_id = request_of(session_factory, number).instance_id
    with unit_of_work(session_factory) as s:
        instance = s.get(ProcessInstance, instance_id)
        good_state, instance.state_json = instance.state_json, '{"broken": true}'
    make_due(session_factory, [number], names=("Escalate",))
    now = utcnow()
    for attempt in range(timers.MAX_ATTEMPTS):
        now += timers.backoff(attempt + 1) + timedelta(seconds=1)
        assert timers.fire_batch(session_factory, lambda at=now: at).failed == 1
    escalate = next(t for t in timers_of(session_factory, number) if t.name == "Escalate")
    assert escalate.status == "failed" and escalate.attempts == timers.MAX_ATTEMPTS
    with unit_of_work(session_factory, read_only=True) as s:
        instance = s.get(ProcessInstance, instance_id)
        assert instance.status == "incident" and "The timer 'Escalate' could not fire after 5 attempts" in (
            instance.incident_message
        )
    assert timers.fire_batch(session_factory, lambda: now + timedelta(days=1)).fired == 0  # waits for Retry

    with unit_of_work(session_factory) as s:  # the cause is fixed, then a clinic administrator retries
        s.get(ProcessInstance, instance_id).state_json = good_state
    with unit_of_work(session_factory) as s:
        assert instance_admin.retry(s, demo.actor("admin"), instance_id)
    assert ready_of(session_factory, number) == ["Escalated review"]
    assert [t.status for t in timers_of(session_factory, number)] == ["cancelled", "fired"]  # escalated: no reminder
