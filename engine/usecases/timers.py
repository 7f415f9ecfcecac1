"""Timers come due: the worker fires them (exactly once), a clinic administrator may Fire now or Change due time.

The worker claims due timers in batches. On PostgreSQL it locks their invoices (the lifecycle's own lock, taken
first by every action on an invoice) with SKIP LOCKED, so any number of workers share the work and never wait for
a person's SAVE; each firing runs in a savepoint and the batch commits once. The timer's `fired` status commits
with the workflow state it produced, so a worker killed mid-batch leaves every timer of the batch waiting: fired
again later, once. On SQLite one worker runs at a time (engine/events/worker.py).

A firing that raises (not a failing script, which is the instance's incident as for any step, but e.g. a refused
step or a database error) is tried again after 5 s, 10 s, 20 s, ... and after MAX_ATTEMPTS becomes the instance's
incident: Retry fires it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine import days
from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.db import unit_of_work
from engine.errors import Conflict, Invalid, NotFound
from engine.instances import lifecycle
from engine.instances.telling import tell_administrators
from engine.models import Invoice, ProcessInstance, Timer, utcnow
from engine.reads.instance_detail import find_instance
from engine.vocabulary import AuditAction, InstanceStatus, TimerStatus

_log = logging.getLogger(__name__)

BATCH = 20
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=1)

Clock = Callable[[], datetime]


def backoff(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


@dataclass(frozen=True)
class Fired:
    fired: int  # timers that fired
    failed: int  # firings that raised (tried again later, or the instance's incident)


def _due(session: Session, now: datetime, postgres: bool, limit: int) -> list[Timer]:
    query = (
        select(Timer)
        .join(Invoice, Invoice.id == Timer.invoice_id)
        .where(Timer.status == TimerStatus.WAITING, Timer.next_attempt_at <= now)
        .order_by(Timer.next_attempt_at, Timer.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(of=Invoice, skip_locked=True)
    return list(session.scalars(query))


def _fire_locked(session: Session, timer_id: int, now: datetime) -> bool:
    """Fire one timer whose invoice this transaction has locked; False when it no longer waits."""
    timer = session.scalar(
        select(Timer).where(Timer.id == timer_id).execution_options(populate_existing=True).with_for_update()
    )
    if timer is None or timer.status != TimerStatus.WAITING:
        return False  # fired or cancelled by someone else since it was read
    instance = session.get(ProcessInstance, timer.instance_id, populate_existing=True)
    invoice = session.get(Invoice, timer.invoice_id)
    ctx = lifecycle.context_for(session, None, invoice, instance)
    ctx.now = now
    if instance.status == InstanceStatus.INCIDENT:
        timer.next_attempt_at = now + LONGEST_WAIT  # waits for the incident's Retry (which makes it due again)
        return False
    if instance.status != InstanceStatus.RUNNING:
        timer.status = TimerStatus.CANCELLED  # an ended instance's timer never fires
        return False
    lifecycle.fire_timer(ctx, timer)
    return timer.status == TimerStatus.FIRED


def _failed(session: Session, timer_id: int, now: datetime, error: Exception) -> None:
    timer = session.get(Timer, timer_id, populate_existing=True)
    timer.attempts += 1
    timer.last_error = f"{type(error).__name__}: {error}"[:2000]
    if timer.attempts < MAX_ATTEMPTS:
        timer.next_attempt_at = now + backoff(timer.attempts)
        return
    timer.status = TimerStatus.FAILED
    instance = session.get(ProcessInstance, timer.instance_id, populate_existing=True)
    instance.status = InstanceStatus.INCIDENT
    instance.incident_element = timer.element_id
    instance.incident_message = (
        f"The timer '{timer.name}' could not fire after {timer.attempts} attempts: {timer.last_error}"
    )
    instance.incident_at = now
    invoice = session.get(Invoice, timer.invoice_id)
    ctx = lifecycle.context_for(session, None, invoice, instance)
    ctx.now = now
    ctx.audit(AuditAction.TIMER_FAILED, timer=timer.name, element_id=timer.element_id, message=timer.last_error)
    tell_administrators(ctx, timer.name, instance.incident_message)


def fire_batch(factory: sessionmaker[Session], clock: Clock = utcnow, limit: int = BATCH) -> Fired:
    """Fire the timers due now, up to `limit`, in one transaction (each in a savepoint)."""
    postgres = factory.kw["bind"].dialect.name == "postgresql"
    fired = failed = 0
    now = clock()
    with unit_of_work(factory, read_only=True) as session:  # most polls find nothing: no write lock for that
        if (
            session.scalar(
                select(Timer.id).where(Timer.status == TimerStatus.WAITING, Timer.next_attempt_at <= now).limit(1)
            )
            is None
        ):
            return Fired(0, 0)
    with unit_of_work(factory) as session:
        for timer_id in [t.id for t in _due(session, now, postgres, limit)]:
            try:
                with session.begin_nested():
                    went = _fire_locked(session, timer_id, now)
                fired += went  # counted once its savepoint is released
            except Exception as exc:  # noqa: BLE001 - recorded on the timer, tried again, then an incident
                failed += 1
                _log.warning("timer %s could not fire (%s: %s); trying again later", timer_id, type(exc).__name__, exc)
                _failed(session, timer_id, now, exc)
    return Fired(fired, failed)


def fire_due(factory: sessionmaker[Session], clock: Clock = utcnow, limit: int = 10_000) -> int:
    """Every timer due now (up to about `limit`); returns how many fired."""
    fired = 0
    attempts = 0
    while attempts < limit:
        batch = fire_batch(factory, clock)
        if not batch.fired and not batch.failed:
            break
        fired += batch.fired
        attempts += batch.fired + batch.failed
    return fired


# ---- a clinic administrator's hand on an instance's timers -------------------------------------------------


def _timer_of(ctx, timer_id: int) -> Timer:
    timer = ctx.session.get(Timer, timer_id)
    if timer is None or timer.instance_id != ctx.instance.id:
        raise NotFound(f"Timer {timer_id} was not found on process instance {ctx.instance.id}.")
    if timer.status != TimerStatus.WAITING:
        raise Conflict(f"The timer '{timer.name}' is {timer.status} already: only a waiting timer can be changed.")
    return timer


def _locked(session: Session, actor: Actor, instance_id: int):
    require(actor, Permission.RETRY)
    instance = find_instance(session, actor, instance_id)
    invoice = lifecycle.lock_instance(session, instance)
    return lifecycle.context_for(session, actor, invoice, instance)


def fire_now(session: Session, actor: Actor, instance_id: int, timer_id: int) -> Timer:
    """Fire a waiting timer now (audited as the administrator's), whatever its due time."""
    ctx = _locked(session, actor, instance_id)
    timer = _timer_of(ctx, timer_id)
    if ctx.instance.status != InstanceStatus.RUNNING:
        raise Conflict(f"This instance is {ctx.instance.status.capitalize()}: its timers do not fire.")
    ctx.audit(AuditAction.TIMER_FIRED_NOW, timer=timer.name, element_id=timer.element_id, due=timer.due_at)
    lifecycle.fire_timer(ctx, timer)
    return timer


def parse_local(text: str | None, timezone: str, locale: str | None = None) -> datetime:
    """A day and time as the clinic writes them ("12/24/2026 08:00", or ISO 2026-12-24T08:00) in its time zone
    -> UTC."""
    value = (text or "").strip()
    moment = days.parse_moment(value, locale)
    if moment is None:
        example = f"{days.format_day(date(2026, 12, 24), locale)} 08:00"
        how = f"write it as {days.moment_hint(locale)}, e.g. {example}"
        raise Invalid({"due": f"Due time '{value}' is not a date and time: {how}."})
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(ZoneInfo("UTC"))


def change_due(session: Session, actor: Actor, instance_id: int, timer_id: int, due_text: str | None) -> Timer:
    """Move a waiting timer's due time (in the clinic's time zone); the worker fires it then."""
    ctx = _locked(session, actor, instance_id)
    timer = _timer_of(ctx, timer_id)
    due = parse_local(due_text, actor.timezone, actor.locale)
    if due <= ctx.now:
        raise Invalid({"due": "Due time is in the past: to fire the timer now, use Fire now."})
    lifecycle.move_timer(ctx, timer, due)
    return timer
