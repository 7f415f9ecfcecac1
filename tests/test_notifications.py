"""Issue 14 (notifications): the bell, mail by each person's choice (immediately, 08:00 digest, off), sent by the
worker to a real SMTP server (aiosmtpd) or written as .eml files; subjects never carry a patient's name."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

from helpers import latest_request_id
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.events.mail import send_digests, send_mail
from engine.models import CancellationRequest, Clinic, Invoice, MailMessage, Notification, User, utcnow
from engine.usecases import instance_admin, timers


def _notes(factory, username: str) -> list[Notification]:
    with unit_of_work(factory, read_only=True) as s:
        user_id = s.scalar(select(User.id).where(User.username == username))
        rows = s.scalars(select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)).all()
        s.expunge_all()
        return rows


def _pending_mail(factory) -> int:
    with unit_of_work(factory, read_only=True) as s:
        return s.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.status == "pending"))


def _bell(page_html: str) -> int:
    found = re.search(r'id="bell-count">(\d+)', page_html)
    return int(found.group(1)) if found else 0


def test_a_decision_reaches_the_requester_by_bell_and_mail_at_once(web, demo, session_factory, smtp_server, tmp_path):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    # The deciders are told in the bell; their mail waits for the 08:00 digest (their default).
    for who in ("approver", "supervisor", "admin"):
        assert [n.kind for n in _notes(session_factory, who)] == ["waiting_for_you"]
    assert _notes(session_factory, "billing") == [] and _pending_mail(session_factory) == 0
    assert _bell(web("approver").get("/home").text) == 1

    demo.decide("approver", number)
    note = _notes(session_factory, "billing")[-1]
    assert note.subject == f"Invoice {number}: your cancellation request was approved"
    assert "Approved by Arjun Approver. Next: Cancel Invoice" in note.body
    assert _pending_mail(session_factory) == 1

    assert send_mail(session_factory, smtp_server.url, tmp_path / "mail") == 1
    [message] = smtp_server.messages
    with unit_of_work(session_factory, read_only=True) as s:
        stored = s.scalar(select(MailMessage))
        patient = s.scalar(select(Invoice.patient_name).where(Invoice.number == number))
    assert message["To"] == "billing@northside.example" and message["Message-ID"] == stored.message_id
    assert message["Subject"] == note.subject and patient not in message["Subject"]
    text_part = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",)).get_content()
    assert f"http://127.0.0.1:5000/billing/invoices/{number}" in text_part
    assert f'href="http://127.0.0.1:5000/billing/invoices/{number}"' in html_part
    assert send_mail(session_factory, smtp_server.url, tmp_path / "mail") == 0  # sent once
    assert stored.status == "sent"


def test_without_smtp_mail_is_written_as_eml_files(demo, session_factory, tmp_path, monkeypatch):
    monkeypatch.setenv("BASE_URL", "https://billing.northside.example")
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    demo.decide("approver", number, "reject", "Two separate visits")
    assert send_mail(session_factory, None, tmp_path / "mail") == 1
    [file] = (tmp_path / "mail").glob("*.eml")
    message = message_from_bytes(file.read_bytes(), policy=policy.default)
    assert message["Subject"] == f"Invoice {number}: your cancellation request was rejected"
    assert "Rejected by Arjun Approver: Two separate visits" in message.get_body(("plain",)).get_content()
    assert f"https://billing.northside.example/billing/invoices/{number}" in message.get_body(("plain",)).get_content()


def test_the_daily_digest_goes_at_0800_clinic_time(demo, session_factory, smtp_server, tmp_path):
    numbers = demo.invoice_numbers("NS")[2:4]
    for number in numbers:
        demo.request("billing", number)
    zone = ZoneInfo("America/New_York")  # Northside's time zone
    tomorrow = (utcnow().astimezone(zone) + timedelta(days=1)).date()

    def at(hour: int, minute: int):
        return lambda: datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=zone)

    assert send_digests(session_factory, at(7, 59)) == 0
    assert send_digests(session_factory, at(8, 1)) == 3  # approver, supervisor, admin: one digest each
    assert send_digests(session_factory, at(9, 0)) == 0  # once
    assert send_mail(session_factory, smtp_server.url, tmp_path, clock=at(9, 1)) == 3
    to_approver = next(m for m in smtp_server.messages if m["To"] == "approver@northside.example")
    assert to_approver["Subject"] == f"Clinic billing: 2 notifications for {tomorrow.isoformat()}"
    body = to_approver.get_body(("plain",)).get_content()
    assert all(f"Invoice {n}: a cancellation request waits for your decision" in body for n in numbers)


def test_preferences_decide_what_comes_by_mail_and_bad_ones_change_nothing(web, demo, session_factory, db_snapshot):
    approver = web("approver")
    before = db_snapshot()
    refused = approver.post("/account/notifications", {"pref_waiting_for_you": "hourly", "pref_newsletter": "off"},
                            follow_redirects=True)  # fmt: skip
    text = html.unescape(refused.text)
    assert "'hourly' is not a choice for A request waits for your decision" in text
    assert "There is no notification kind 'newsletter'" in text
    assert db_snapshot() == before

    saved = approver.post("/account/notifications", {"pref_waiting_for_you": "immediately"}, follow_redirects=True)
    assert "Notification preferences saved." in saved.text
    assert re.search(r'<option value="immediately" selected>Immediately</option>', saved.text)
    admin = web("admin")
    admin.post("/account/notifications", {"pref_waiting_for_you": "off"})
    demo.request("billing", demo.invoice_numbers("NS")[4])
    with unit_of_work(session_factory, read_only=True) as s:
        to = set(s.scalars(select(MailMessage.to_address)))
    assert to == {"approver@northside.example"}  # admin chose off, supervisor keeps the digest
    assert [n.delivery for n in _notes(session_factory, "admin")] == ["off"]  # still in the bell


def test_the_bell_lists_and_marks_read(web, demo, session_factory):
    numbers = demo.invoice_numbers("NS")[5:7]
    for number in numbers:
        demo.request("billing", number)
    approver = web("approver")
    page = approver.get("/notifications").text
    assert _bell(page) == 2 and page.count('class="unread"') == 2
    first = _notes(session_factory, "approver")[0]
    approver.post("/notifications/read", {"id": str(first.id)})
    assert _bell(approver.get("/home").text) == 1
    assert web("supervisor").post("/notifications/read", {"id": str(first.id)}).status_code == 302
    assert _notes(session_factory, "approver")[0].read_at is not None
    done = approver.post("/notifications/read", {}, follow_redirects=True)
    assert "1 notification marked as read." in done.text and _bell(done.text) == 0
    assert _bell(web("supervisor").get("/home").text) == 2  # the others' stay unread


def test_the_bell_says_99_plus_beyond_99_and_marking_all_read_counts_every_one(web, demo, session_factory):
    """The badge counts up to 99 and then says 99+ (issue 16: every page shows it); Mark all as read takes every
    one."""
    approver = demo.actor("approver")
    with unit_of_work(session_factory) as s:
        s.add_all(
            Notification(
                user_id=approver.user_id,
                clinic_id=approver.clinic_id,
                kind="waiting_for_you",
                subject=f"Note {i}",
                body="",
                link="/home",
                delivery="off",
            )  # fmt: skip
            for i in range(99)
        )
    client = web("approver")
    assert _bell(client.get("/home").text) == 99
    demo.request("billing", demo.invoice_numbers("NS")[0])  # the 100th
    page = client.get("/notifications").text
    assert re.search(r'id="bell-count">99\+<', page) and page.count('class="unread"') == 50  # the latest 50
    done = client.post("/notifications/read", {}, follow_redirects=True)
    assert "100 notifications marked as read." in done.text and _bell(done.text) == 0


def test_escalation_termination_and_incidents_are_told(demo, session_factory, incident_probe):
    escalated, terminated = demo.invoice_numbers("NS")[7:9]
    with unit_of_work(session_factory) as s:  # these two on the approval process (Northside runs the probe)
        s.scalar(select(Clinic).where(Clinic.name == "Northside Clinic")).process_id = None
    demo.request("billing", escalated)
    demo.request("billing", terminated)
    assert timers.fire_due(session_factory, lambda: utcnow() + timedelta(days=3, minutes=5)) >= 2
    subjects = [n.subject for n in _notes(session_factory, "billing")]
    assert f"Invoice {escalated}: your cancellation request was escalated" in subjects
    admin_notes = [n.subject for n in _notes(session_factory, "admin")]
    assert admin_notes.count(f"Invoice {escalated}: a cancellation request waits for your decision") == 2  # + again
    with unit_of_work(session_factory) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, terminated)).instance_id
        instance_admin.terminate(s, demo.actor("admin"), instance_id, "Duplicate of another request")
    note = _notes(session_factory, "billing")[-1]
    assert note.subject == f"Invoice {terminated}: your cancellation request was terminated"
    assert "Duplicate of another request" in note.body

    with unit_of_work(session_factory) as s:
        s.scalar(select(Clinic).where(Clinic.name == "Northside Clinic")).process_id = "incident_probe"
    probe = demo.invoice_numbers("NS")[9]
    demo.request("billing", probe)  # its step fails: an incident
    incident = _notes(session_factory, "admin")[-1]
    assert incident.kind == "incident" and incident.subject.startswith(f"Invoice {probe}: the cancellation stopped")
    assert incident.link.startswith("/admin/instances/") and incident.delivery == "immediately"


def test_who_left_is_told_nothing_and_the_bell_shows_the_clinic_one_works_in(web, demo, session_factory):
    from engine.usecases import people

    number = demo.invoice_numbers("NS")[10]
    demo.request("billing", number)
    with unit_of_work(session_factory) as s:
        people.set_active(s, demo.actor("admin"), "billing", False)
    demo.decide("approver", number, "reject", "Not a duplicate")
    assert _notes(session_factory, "billing") == [] and _pending_mail(session_factory) == 0
    lakeside = demo.invoice_numbers("LS")[0]
    assert _bell(web("admin").get("/home").text) == 1  # Northside's request, in Northside
    assert lakeside  # the admin of another clinic sees none of Northside's notifications
    assert _bell(web("lakeside").get("/home").text) == 0
