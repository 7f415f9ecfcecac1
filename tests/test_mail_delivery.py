"""Issue 14 (mail): a mail is sent at least once and always with the same Message-ID; a server that is down delays
it, a worker that dies after the server accepted it sends it again; two workers on PostgreSQL send each mail and
each digest once."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from helpers import run_together
from mailbox_server import free_port
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.events.mail import send_digests, send_mail
from engine.models import MailMessage, Notification, utcnow

postgres_only = pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="TEST_DB=postgres runs it")


def _mails(factory) -> list[MailMessage]:
    with unit_of_work(factory, read_only=True) as s:
        rows = s.scalars(select(MailMessage).order_by(MailMessage.id)).all()
        s.expunge_all()
        return rows


class DiesAfterSending:
    """The worker's clock; the worker dies (this raises) when it asks the time after the server took the mail."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("worker killed after the SMTP server accepted the mail")
        return utcnow()


def test_a_mail_waits_while_the_server_is_down_then_goes_once(demo, session_factory, smtp_server, tmp_path):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    demo.decide("approver", number)
    down = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    assert send_mail(session_factory, down, tmp_path) == 1
    [mail] = _mails(session_factory)
    assert mail.status == "pending" and mail.attempts == 1 and "Connection refused" in mail.last_error
    assert mail.next_attempt_at > utcnow()  # tried again later, not in a tight loop
    assert send_mail(session_factory, smtp_server.url, tmp_path) == 0 and smtp_server.messages == []
    later = utcnow() + timedelta(minutes=1)
    assert send_mail(session_factory, smtp_server.url, tmp_path, clock=lambda: later) == 1
    [message] = smtp_server.messages
    [mail] = _mails(session_factory)
    assert mail.status == "sent" and message["Message-ID"] == mail.message_id and mail.last_error is None


def test_a_worker_that_dies_after_sending_sends_again_with_the_same_message_id(
    demo, session_factory, smtp_server, tmp_path
):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    demo.decide("approver", number, "reject", "Two separate visits")
    with pytest.raises(RuntimeError, match="worker killed"):
        send_mail(session_factory, smtp_server.url, tmp_path, clock=DiesAfterSending())
    [mail] = _mails(session_factory)
    assert len(smtp_server.messages) == 1 and mail.status == "pending" and mail.attempts == 0  # nothing recorded
    assert send_mail(session_factory, smtp_server.url, tmp_path) == 1
    first, second = smtp_server.messages  # at least once: the reader's mail program shows one (same Message-ID)
    assert first["Message-ID"] == second["Message-ID"] == mail.message_id
    assert first["Subject"] == second["Subject"] == f"Invoice {number}: your cancellation request was rejected"
    assert [m.status for m in _mails(session_factory)] == ["sent"]
    assert send_mail(session_factory, smtp_server.url, tmp_path) == 0 and len(smtp_server.messages) == 2


@postgres_only
def test_two_workers_send_each_mail_and_each_digest_once(demo, session_factory, smtp_server, tmp_path):
    numbers = demo.invoice_numbers("NS")[2:8]
    for number in numbers:
        demo.request("billing", number)
    zone = ZoneInfo("America/New_York")  # Northside's time zone
    tomorrow = (utcnow().astimezone(zone) + timedelta(days=1)).date()
    at_0801 = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 8, 1, tzinfo=zone)
    made = run_together(*[lambda: send_digests(session_factory, lambda: at_0801)] * 2)
    assert sum(made) == 3, made  # approver, supervisor, admin: one digest each, whichever worker made it
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(Notification).where(Notification.mailed_at.is_(None))) == 0
    for number in numbers:
        demo.decide("approver", number)  # six mails to billing, at once
    assert len(_mails(session_factory)) == 3 + 6
    sent = run_together(*[lambda: send_mail(session_factory, smtp_server.url, tmp_path, lambda: at_0801)] * 2)
    assert sum(sent) == 9, sent
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == 9 and len(set(ids)) == 9  # each mail once
    assert {m.status for m in _mails(session_factory)} == {"sent"}
