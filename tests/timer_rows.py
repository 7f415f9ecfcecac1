"""Reading an instance's timers, request, ready steps and audit in the timer tests; making timers due."""

from __future__ import annotations

from datetime import timedelta

from helpers import latest_request_id
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import AuditEvent, CancellationRequest, Timer, UserTask, utcnow


def timers_of(factory, number: str) -> list[Timer]:
    with unit_of_work(factory, read_only=True) as s:
        request = s.get(CancellationRequest, latest_request_id(factory, number))
        rows = s.scalars(select(Timer).where(Timer.instance_id == request.instance_id).order_by(Timer.id)).all()
        s.expunge_all()
        return rows


def request_of(factory, number: str) -> CancellationRequest:
    with unit_of_work(factory, read_only=True) as s:
        request = s.get(CancellationRequest, latest_request_id(factory, number))
        s.expunge_all()
        return request


def ready_of(factory, number: str) -> list[str]:
    request = request_of(factory, number)
    with unit_of_work(factory, read_only=True) as s:
        return list(
            s.scalars(
                select(UserTask.name).where(UserTask.instance_id == request.instance_id, UserTask.state == "ready")
            )
        )


def actions_of(factory, number: str) -> list[str]:
    request = request_of(factory, number)
    with unit_of_work(factory, read_only=True) as s:
        return list(
            s.scalars(
                select(AuditEvent.action).where(AuditEvent.instance_id == request.instance_id).order_by(AuditEvent.id)
            )
        )


def make_due(factory, numbers: list[str], names=("Reminder", "Escalate"), ago=timedelta(minutes=1)) -> None:
    """Time passes: the timers of these requests are due (the rows say when; the worker decides from them)."""
    ids = [request_of(factory, n).instance_id for n in numbers]
    with unit_of_work(factory) as s:
        for timer in s.scalars(select(Timer).where(Timer.instance_id.in_(ids), Timer.name.in_(names))):
            timer.due_at = timer.next_attempt_at = utcnow() - ago
