"""Timers fired per second by the worker's own function (engine.usecases.timers.fire_due), with one and with two
worker processes, on the filled database: the Reminder and Escalate timers of instances waiting at Review request
are made due, then fired; each must fire exactly once (its row fired, one timer_fired audit)."""

from __future__ import annotations

import json
import multiprocessing
import time
from datetime import timedelta

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, insert, select

from engine.db import make_engine, make_session_factory, unit_of_work
from engine.instances.operations import build_runtime
from engine.models import AuditEvent, ProcessInstance, Timer, utcnow
from engine.usecases.timers import fire_due

TIMER_ELEMENTS = {"remind_review": ("Reminder", False), "escalate_review": ("Escalate", True)}


def _waiting_timers(state_json: str) -> dict[str, str]:
    """element id -> task id of the workflow's waiting Reminder and Escalate timer events."""
    tasks = json.loads(state_json)["tasks"]
    waiting = (t for t in tasks.values() if t["state"] == TaskState.WAITING)
    return {t["task_spec"]: t["id"] for t in waiting if t["task_spec"] in TIMER_ELEMENTS}


def make_due(url: str, count: int) -> list[int]:
    """Timer rows, due a minute ago, for `count` instances waiting at Review request; returns their ids."""
    factory = make_session_factory(make_engine(url), build_runtime())
    due = utcnow() - timedelta(minutes=1)
    try:
        with unit_of_work(factory) as session:
            instances = session.execute(
                select(ProcessInstance.id, ProcessInstance.clinic_id, ProcessInstance.invoice_id,
                       ProcessInstance.state_json)
                .where(ProcessInstance.status == "running", ProcessInstance.waiting_element == "review_request",
                       ProcessInstance.next_timer_at.is_(None))
                .order_by(ProcessInstance.id)
                .limit(count)
            ).all()  # fmt: skip
            rows = []
            for instance_id, clinic_id, invoice_id, state in instances:
                for element, task_id in _waiting_timers(state).items():
                    name, interrupting = TIMER_ELEMENTS[element]
                    rows.append(
                        {
                            "clinic_id": clinic_id,
                            "instance_id": instance_id,
                            "invoice_id": invoice_id,
                            "task_id": task_id,
                            "element_id": element,
                            "name": name,
                            "interrupting": interrupting,
                            "attached_to": "Review request",
                            "status": "waiting",
                            "due_at": due,
                            "next_attempt_at": due,
                            "attempts": 0,
                            "created_at": due,
                        }  # fmt: skip
                    )
            if rows:
                session.execute(insert(Timer), rows)
                for instance_id, *_rest in instances:
                    session.get(ProcessInstance, instance_id).next_timer_at = due
            return [r[0] for r in instances]
    finally:
        factory.kw["bind"].dispose()


def _worker(url: str, start_line, results) -> None:
    factory = make_session_factory(make_engine(url), build_runtime())
    try:
        start_line.wait()
        start = time.perf_counter()
        fired = fire_due(factory)
        results.put((fired, start, time.perf_counter(), None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        results.put((0, 0.0, 0.0, repr(exc)))
    finally:
        factory.kw["bind"].dispose()


def fire_rate(url: str, instances: int, processes: int) -> tuple[float, int]:
    """Timers fired per second by `processes` workers together; and how many fired. Raises unless each of the
    due timers fired exactly once."""
    ids = make_due(url, instances)
    context = multiprocessing.get_context("spawn")
    start_line, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=_worker, args=(url, start_line, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    finished = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    errors = [error for *_rest, error in finished if error]
    if errors:
        raise RuntimeError(f"timer workers failed: {errors[0]}")
    fired = sum(n for n, *_ in finished)
    factory = make_session_factory(make_engine(url), build_runtime())
    try:
        with unit_of_work(factory, read_only=True) as session:
            statuses = dict(session.execute(select(Timer.status, func.count()).where(Timer.instance_id.in_(ids))
                                            .group_by(Timer.status)).all())  # fmt: skip
            audits = session.scalar(
                select(func.count()).where(AuditEvent.action == "timer_fired", AuditEvent.instance_id.in_(ids))
            )
    finally:
        factory.kw["bind"].dispose()
    if statuses.get("waiting") or statuses.get("fired", 0) != fired or audits != fired:
        raise RuntimeError(f"timers: fired {fired}, rows {statuses}, audits {audits}: not each exactly once")
    return fired / (max(e for _f, _s, e, _x in finished) - min(s for _f, s, _e, _x in finished)), fired
