"""The worker's mail: sends the outbox (SMTP_URL through the standard library's smtplib, or .eml files under
instance/mail/ when it is unset) and, at 08:00 clinic time, puts each person's daily digest in the outbox.

SMTP cannot promise exactly once: a mail is sent, then marked sent; a worker killed in between sends it again,
with the same Message-ID (receivers drop the copy). On PostgreSQL workers claim mails with SKIP LOCKED and hold
them while sending; on SQLite one worker runs (engine/events/worker.py) and sends outside the write lock.
SMTP_URL: smtp://user:password@host:587 (STARTTLS when the server offers it), smtps://… (TLS from the start).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections import defaultdict
from datetime import datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from engine.db import unit_of_work
from engine.models import Clinic, MailMessage, Notification, User, utcnow
from engine.vocabulary import Delivery, MailStatus

from .notify import PRODUCT, base_url, mail_for

BATCH = 20
GIVE_UP_AFTER = timedelta(days=1)
DIGEST_AT = time(8, 0)


def sender() -> str:
    return os.environ.get("MAIL_FROM") or f"{PRODUCT} <no-reply@{urlsplit(base_url()).hostname or 'localhost'}>"


def as_email(mail: MailMessage) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender()
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Message-ID"] = mail.message_id
    message["Date"] = format_datetime(mail.created_at)
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


class Outbox:
    """Where mails go: an SMTP server (one connection per batch) or a folder of .eml files."""

    def __init__(self, smtp_url: str | None, folder: Path):
        self.smtp_url, self.folder, self.connection = smtp_url, folder, None

    def send(self, mail: MailMessage) -> None:
        message = as_email(mail)
        if not self.smtp_url:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{mail.id:08d}.eml").write_bytes(bytes(message))  # the same file if sent again
            return
        if self.connection is None:
            self.connection = _connect(self.smtp_url)
        self.connection.send_message(message)

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except smtplib.SMTPException:
                pass
            self.connection = None


def _connect(url: str) -> smtplib.SMTP:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465")
    if parts.scheme == "smtps":
        connection = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=10,
                                      context=ssl.create_default_context())  # fmt: skip
    else:
        connection = smtplib.SMTP(parts.hostname, parts.port or 587, timeout=10)
        connection.ehlo()
        if connection.has_extn("starttls"):
            connection.starttls(context=ssl.create_default_context())
            connection.ehlo()
        elif parts.username:  # never send the password in the clear (a stripped STARTTLS offer included)
            connection.close()
            raise ValueError("the SMTP server offers no STARTTLS: refusing to log in without TLS (use smtps://)")
    if parts.username:
        connection.login(unquote(parts.username), unquote(parts.password or ""))
    return connection


def _record(mail: MailMessage, error: Exception | None, now: datetime) -> None:
    mail.attempts += 1
    if error is None:
        mail.status, mail.sent_at, mail.last_error = MailStatus.SENT, now, None
        return
    mail.last_error = f"{type(error).__name__}: {error}"[:2000]
    if now - mail.created_at >= GIVE_UP_AFTER:
        mail.status = MailStatus.FAILED
    else:
        mail.next_attempt_at = now + min(timedelta(seconds=5) * 2 ** (mail.attempts - 1), timedelta(hours=1))


def _due(session: Session, now: datetime, lock: bool, limit: int) -> list[MailMessage]:
    query = (
        select(MailMessage)
        .where(MailMessage.status == MailStatus.PENDING, MailMessage.next_attempt_at <= now)
        .order_by(MailMessage.next_attempt_at, MailMessage.id)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def send_batch(factory: sessionmaker[Session], outbox: Outbox, clock=utcnow, limit: int = BATCH) -> int:
    postgres = factory.kw["bind"].dialect.name == "postgresql"
    now = clock()
    try:
        if postgres:
            with unit_of_work(factory) as session:
                mails = _due(session, now, lock=True, limit=limit)
                for mail in mails:
                    _record(mail, _try(outbox, mail), clock())
                return len(mails)
        with unit_of_work(factory, read_only=True) as session:
            mails = _due(session, now, lock=False, limit=limit)
            session.expunge_all()
        outcomes = [(mail.id, _try(outbox, mail), clock()) for mail in mails]
        if outcomes:
            with unit_of_work(factory) as session:
                for mail_id, error, at in outcomes:
                    _record(session.get(MailMessage, mail_id), error, at)
        return len(outcomes)
    finally:
        outbox.close()


def _try(outbox: Outbox, mail: MailMessage) -> Exception | None:
    try:
        outbox.send(mail)
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        outbox.close()
        return exc
    return None


def send_mail(factory: sessionmaker[Session], smtp_url: str | None, folder: Path, clock=utcnow) -> int:
    """Every mail due now; returns how many were tried."""
    outbox, tried = Outbox(smtp_url, folder), 0
    while batch := send_batch(factory, outbox, clock):
        tried += batch
        if tried >= 1000:
            break
    return tried


def _digest_due(session: Session, clinic: Clinic, now: datetime):
    """(cutoff, local date) when the clinic's 08:00 has passed and a digest notification made before it waits."""
    local = now.astimezone(ZoneInfo(clinic.timezone))
    if local.time() < DIGEST_AT:
        return None
    cutoff = datetime.combine(local.date(), DIGEST_AT, local.tzinfo)
    waiting = select(Notification.id).where(
        Notification.clinic_id == clinic.id,
        Notification.delivery == Delivery.DIGEST,
        Notification.mailed_at.is_(None),
        Notification.created_at < cutoff,
    )
    return (cutoff, local.date().isoformat()) if session.scalar(waiting.limit(1)) is not None else None


def send_digests(factory: sessionmaker[Session], clock=utcnow) -> int:
    """At or after 08:00 clinic time: one mail per person with the digest notifications made before today's 08:00
    (later ones wait for tomorrow's). Returns how many digests went to the outbox. Polls that find nothing to do
    only read."""
    now = clock()
    with unit_of_work(factory, read_only=True) as session:
        due = {
            c.id: d for c in session.scalars(select(Clinic).order_by(Clinic.id)) if (d := _digest_due(session, c, now))
        }
    if not due:
        return 0
    made = 0
    with unit_of_work(factory) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for clinic_id, (cutoff, day) in due.items():
            if postgres and not session.scalar(text("SELECT pg_try_advisory_xact_lock(8008, :c)"), {"c": clinic_id}):
                continue  # another worker makes this clinic's digests right now
            pending = session.scalars(
                select(Notification)
                .where(
                    Notification.clinic_id == clinic_id,
                    Notification.delivery == Delivery.DIGEST,
                    Notification.mailed_at.is_(None),
                    Notification.created_at < cutoff,
                )
                .order_by(Notification.user_id, Notification.id)
            ).all()
            by_person = defaultdict(list)
            for note in pending:
                by_person[note.user_id].append(note)
            for user_id, notes in by_person.items():
                person = session.get(User, user_id)
                for note in notes:
                    note.mailed_at = now
                if person.email and person.active:
                    session.add(mail_for(person, notes, now, digest_day=day))
                    made += 1
    return made
