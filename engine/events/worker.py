"""The background worker: `python -m engine.cli worker` fires timers, sends mail and delivers webhooks.

Jobs are rows of the app's own tables. On PostgreSQL any number of workers run on any number of hosts: each
claims a batch of due deliveries with SELECT … FOR UPDATE SKIP LOCKED and keeps the rows locked while it POSTs
them, recording all outcomes in one commit, so no two workers make the same attempt; a worker killed mid-batch
releases the locks with its connection and the attempts are made again later, with the same event ids (at least
once). Per invoice, events go out in order: a
delivery waits while an earlier one of its invoice is pending or failed.

On SQLite one worker runs at a time (a lock on instance/worker.lock; a second one waits for it), and it never
holds the database's write lock while it waits for a receiver: it reads the due delivery, POSTs, then records
the outcome in a short transaction.

Why not a job library: procrastinate and its kin run on PostgreSQL only, and SQLite (the embedded default)
would still need this loop; the work is small (one table, one query), so PostgreSQL's own row locks are the
distributed engine and nothing else is needed.
"""

from __future__ import annotations

import fcntl
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from threading import Event as StopSignal

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker
from standardwebhooks.webhooks import Webhook

from engine.db import unit_of_work
from engine.models import Clinic, WebhookDelivery, utcnow
from engine.vocabulary import DeliveryStatus

from .outbox import CONTENT_TYPE

_log = logging.getLogger(__name__)
# What the log says a job did, by the job's function name.
_DONE = {
    "fire_due": "timers fired",
    "send_digests": "digests written",
    "send_mail": "mails sent",
    "deliver_due": "webhook deliveries tried",
    "keep_statistics": "SQLite statistics refreshed",
}

TIMEOUT = 10  # seconds a receiver has to answer
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """After the n-th failed attempt: 5 s, 10 s, 20 s, … doubling up to an hour."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_WAIT)


@dataclass(frozen=True)
class Attempt:
    delivery_id: int
    url: str
    event_id: str
    body: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    delivered: bool
    words: str  # "HTTP 204", "HTTP 500: …", "error: connection refused"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could lead outside WEBHOOK_ALLOWED_HOSTS
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def signature_headers(attempt: Attempt, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers; during a secret rotation the body is signed with both secrets."""
    signatures = " ".join(Webhook(s).sign(attempt.event_id, now, attempt.body) for s in attempt.secrets)
    return {
        "webhook-id": attempt.event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "Content-Type": CONTENT_TYPE,
        "User-Agent": "clinic-billing-webhooks/1",
    }


def post(attempt: Attempt, now: datetime) -> Answer:
    if not attempt.url.startswith(("http://", "https://")):  # webhooks.check_url allowed no other when it was set
        return Answer(False, "error: not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - http(s) only, to WEBHOOK_ALLOWED_HOSTS
        attempt.url, data=attempt.body.encode(), headers=signature_headers(attempt, now), method="POST"
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            return Answer(200 <= response.status < 300, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        with exc:
            text = exc.read(200).decode("utf-8", "replace").strip()
        return Answer(False, f"HTTP {exc.code}" + (f": {text}" if text else ""))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(False, f"error: {reason}"[:500])


def _due(session: Session, now: datetime, lock: bool, limit: int) -> list[WebhookDelivery]:
    """Due deliveries, at most one per invoice (a later one waits while an earlier one is open)."""
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        and_(
            earlier.invoice_id == WebhookDelivery.invoice_id,
            earlier.id < WebhookDelivery.id,
            earlier.status.in_((DeliveryStatus.PENDING, DeliveryStatus.FAILED)),
        )
    )
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now, ~blocked)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=WebhookDelivery)
    return list(session.scalars(query).unique())


def _attempt(session: Session, delivery: WebhookDelivery, now: datetime) -> Attempt:
    clinic = session.get(Clinic, delivery.clinic_id)
    secrets = [clinic.webhook_secret] if clinic.webhook_secret else []
    if clinic.webhook_old_secret and clinic.webhook_old_secret_until and clinic.webhook_old_secret_until > now:
        secrets.append(clinic.webhook_old_secret)
    return Attempt(delivery.id, delivery.url, delivery.event.event_id, delivery.event.body, tuple(secrets))


def _record(delivery: WebhookDelivery, answer: Answer, now: datetime) -> None:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_response = answer.words[:500]
    if answer.delivered:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif now >= delivery.give_up_at:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)


Clock = Callable[[], datetime]
Sender = Callable[[Attempt, datetime], Answer]


BATCH = 20  # deliveries claimed together: one commit records them all (a commit costs a WAL flush on PostgreSQL)


def deliver_batch(
    factory: sessionmaker[Session], clock: Clock = utcnow, send: Sender = post, limit: int = BATCH
) -> int:
    """Make the attempts due now, up to `limit` (one per invoice), and record them in one transaction; returns
    how many were made (0: nothing is due). A worker killed mid-batch leaves them all pending: made again."""
    postgres = factory.kw["bind"].dialect.name == "postgresql"
    now = clock()
    if postgres:
        with unit_of_work(factory) as session:
            claimed = _due(session, now, lock=True, limit=limit)
            for delivery in claimed:
                answer = send(_attempt(session, delivery, now), now)
                _record(delivery, answer, clock())
        return len(claimed)
    with unit_of_work(factory, read_only=True) as session:
        attempts = [_attempt(session, d, now) for d in _due(session, now, lock=False, limit=limit)]
    answers = [(attempt, send(attempt, now), clock()) for attempt in attempts]
    if answers:
        with unit_of_work(factory) as session:
            for attempt, answer, at in answers:
                delivery = session.get(WebhookDelivery, attempt.delivery_id)
                if delivery.status == DeliveryStatus.PENDING:  # not skipped meanwhile
                    _record(delivery, answer, at)
    return len(answers)


def deliver_due(factory: sessionmaker[Session], clock: Clock = utcnow, send: Sender = post, limit: int = 1000) -> int:
    """Every attempt due now (up to about `limit`); returns how many were made."""
    made = 0
    while made < limit and (batch := deliver_batch(factory, clock, send)):
        made += batch
    return made


Job = Callable[[sessionmaker[Session]], int]


def run(
    factory: sessionmaker[Session],
    instance_path: str,
    stop: StopSignal,
    poll: float = 1.0,
    jobs: tuple[Job, ...] | None = None,
) -> None:
    """The worker's loop until `stop` is set: do each job's due work (default: deliver webhooks), then wait `poll`
    seconds. The command line adds the timers (engine.usecases.timers.fire_due), which sit above this package."""
    jobs = jobs or (deliver_due,)
    postgres = factory.kw["bind"].dialect.name == "postgresql"
    lock_file = None
    if not postgres:
        path = Path(instance_path) / "worker.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock_file = path.open("w")
        warned = False
        while True:
            try:
                fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not warned:
                    _log.warning("another worker runs on this SQLite database: waiting for it to stop (%s)", path)
                    warned = True
                if stop.wait(1.0):
                    lock_file.close()
                    return
    _log.info("worker started (%s)", "PostgreSQL: SKIP LOCKED" if postgres else "SQLite: one worker")
    try:
        while not stop.is_set():
            for job in jobs:
                name = getattr(job, "__name__", None) or getattr(job, "func", job).__name__
                try:
                    done = job(factory)
                except Exception:  # noqa: BLE001 - a database hiccup must not end the worker; it tries again
                    _log.exception("worker: %s failed; trying again in %s s", name, poll)
                    continue
                if done:
                    _log.info("%s: %s", _DONE.get(name, name), done)
            stop.wait(poll)
    finally:
        if lock_file is not None:
            lock_file.close()
    _log.info("worker stopped")
