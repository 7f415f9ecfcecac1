"""Issue 12: every change of a cancellation goes out as a CloudEvent: written with the change (outbox), read by
polling (GET /api/events) and POSTed to the clinic's webhook by the worker, signed as Standard Webhooks says.

The receiver is a real HTTP server on 127.0.0.1 that verifies each signature with the `standardwebhooks`
package; time is moved by giving the worker a clock, never by sleeping.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import Api, assert_error, run_together
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from engine.db import unit_of_work
from engine.errors import Blocked
from engine.events.worker import deliver_due
from engine.models import Event, Invoice, WebhookDelivery, utcnow
from engine.usecases import integrations


class Receiver:
    """The clinic's system: answers `status` (a list is used up first), verifies every signature."""

    def __init__(self):
        self.secret: str | None = None
        self.received: list[dict] = []  # {"id", "type", "subject", "verified", "status"}
        self.statuses: list[int] = []
        self.status = 204
        self.hold = threading.Event()  # set: requests wait until released
        self.release = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                data = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.arrived.set()
                if receiver.hold.is_set():
                    receiver.release.wait(30)
                status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
                try:
                    Webhook(receiver.secret).verify(data, dict(self.headers))
                    verified = True
                except Exception:  # noqa: BLE001 - recorded, asserted by the test
                    verified = False
                event = json.loads(data)
                receiver.received.append(
                    {"id": event["id"], "type": event["type"].rsplit(".", 1)[-1], "subject": event["subject"],
                     "verified": verified, "status": status, "webhook_id": self.headers["webhook-id"], "event": event}
                )  # fmt: skip
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[tuple[str, str]]:
        return [(r["subject"], r["type"]) for r in self.received if 200 <= r["status"] < 300]


@pytest.fixture
def receiver(monkeypatch):
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1")
    found = Receiver()
    yield found
    found.release.set()
    found.server.shutdown()
    found.server.server_close()


@pytest.fixture
def webhook(api, receiver):
    """Northside's administrator points the webhook at the receiver; the secret is answered once."""
    answer = api("admin").put("/api/clinic/webhook", {"url": receiver.url})
    assert answer.status_code == 200 and answer.json["secret"].startswith("whsec_")
    receiver.secret = answer.json["secret"]
    return receiver


@pytest.fixture
def key(app, demo, session_factory) -> Api:
    with unit_of_work(session_factory) as s:
        return Api(app.test_client(), integrations.create_key(s, demo.actor("admin"), "Billing system")[1])


def lifecycle(demo, number: str) -> None:
    demo.request("billing", number, remarks="Billed twice")
    demo.decide("approver", number, "approve", "Checked")
    demo.cancel("billing", number, "Cancelled as approved")


def test_every_committed_change_goes_out_signed_and_in_the_feed(demo, webhook, key, session_factory):
    number = demo.invoice_numbers("NS")[0]
    lifecycle(demo, number)
    assert deliver_due(session_factory) == 3
    assert webhook.delivered() == [(number, "requested"), (number, "approved"), (number, "cancelled")]
    assert all(r["verified"] and r["webhook_id"] == r["id"] for r in webhook.received)
    first = webhook.received[0]["event"]
    assert first["specversion"] == "1.0" and first["source"].startswith("/clinics/")
    assert first["data"]["by"]["username"] == "billing" and first["data"]["remarks"] == "Billed twice"
    assert first["data"]["invoice"]["number"] == number and first["data"]["request"]["status"] == "requested"
    assert webhook.received[1]["event"]["data"]["remarks"] == "Checked"
    assert webhook.received[2]["event"]["data"]["invoice"]["status"] == "cancelled"

    page = key.get("/api/events", query_string={"limit": 2}).json
    assert [e["event"]["type"] for e in page["events"]] == [
        "clinic.invoice.cancellation.requested",
        "clinic.invoice.cancellation.approved",
    ]
    rest = key.get("/api/events", query_string={"after": page["cursor"]}).json
    assert [e["event"]["id"] for e in rest["events"]] == [webhook.received[2]["id"]]
    assert key.get("/api/events", query_string={"after": rest["cursor"]}).json == {"events": [], "cursor": "3"}
    assert deliver_due(session_factory) == 0  # delivered once


def test_nothing_goes_out_for_a_refused_action(demo, webhook, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[1]
    with unit_of_work(session_factory) as s:
        s.execute(update(Invoice).where(Invoice.number == number).values(payment_status="paid"))
    before = db_snapshot()
    with pytest.raises(Blocked):
        demo.request("billing", number)
    assert db_snapshot() == before and before["events"] == [] and deliver_due(session_factory) == 0


def test_a_receiver_down_for_a_while_gets_the_events_later_in_order_per_invoice(demo, webhook, session_factory, api):
    first, second = demo.invoice_numbers("NS")[2:4]
    demo.request("billing", first)
    demo.decide("approver", first)
    demo.request("billing", second)
    t0 = utcnow()
    webhook.status = 500
    assert deliver_due(session_factory, clock=lambda: t0) == 2  # first's request and second's request; approved waits
    assert deliver_due(session_factory, clock=lambda: t0 + timedelta(seconds=4)) == 0  # backoff: 5 s
    webhook.status = 204
    assert deliver_due(session_factory, clock=lambda: t0 + timedelta(seconds=6)) == 3
    assert webhook.delivered() == [(first, "requested"), (first, "approved"), (second, "requested")] or (
        webhook.delivered() == [(first, "requested"), (second, "requested"), (first, "approved")]
    )
    retried = [r["id"] for r in webhook.received if r["subject"] == first and r["type"] == "requested"]
    assert len(retried) == 2 and len(set(retried)) == 1  # the same event id on every attempt

    # Down for more than 24 hours: Failed, and the invoice's later events wait until an administrator acts.
    demo.cancel("billing", first)
    demo.decide("approver", second, "reject", "Not a duplicate")
    webhook.status = 500
    later = utcnow()
    for hours in (0, 2, 12, 25):
        deliver_due(session_factory, clock=lambda h=hours: later + timedelta(hours=h))
    admin = api("admin")
    failed = admin.get("/api/clinic/webhook/deliveries", query_string={"status": "failed"}).json["items"]
    assert {(d["type"].rsplit(".", 1)[-1], d["status"]) for d in failed} == {
        ("cancelled", "failed"),
        ("rejected", "failed"),
    }
    assert failed[0]["last_response"] == "HTTP 500" and failed[0]["attempts"] >= 4
    webhook.status = 204
    by_type = {d["type"].rsplit(".", 1)[-1]: d["id"] for d in failed}
    assert admin.post(f"/api/clinic/webhook/deliveries/{by_type['cancelled']}/redeliver").status_code == 200
    assert admin.post(f"/api/clinic/webhook/deliveries/{by_type['rejected']}/skip").status_code == 200
    deliver_due(session_factory)
    assert webhook.delivered()[-1] == (first, "cancelled")
    assert_error(admin.post(f"/api/clinic/webhook/deliveries/{by_type['rejected']}/skip"), 409, "conflict", "skipped")


def test_bad_webhook_urls_and_cursors_are_refused_with_nothing_written(api, key, receiver, db_snapshot):
    admin, billing = api("admin"), api("billing")
    before = db_snapshot()
    for url, words in [
        ("ftp://127.0.0.1/x", "is not an http(s) URL"),
        ("https://intranet.example/x", "ask the installation's administrator to add it to WEBHOOK_ALLOWED_HOSTS"),
        ("http://user:pw@127.0.0.1/x", "Leave user names and passwords out"),
        ("", "Give the URL"),
    ]:
        assert_error(admin.put("/api/clinic/webhook", {"url": url}), 422, "invalid", words)
    assert_error(key.get("/api/events", query_string={"after": "abc"}), 422, "invalid", "is not a cursor")
    assert_error(key.get("/api/events", query_string={"after": "²¹"}), 422, "invalid", "is not a cursor")
    assert_error(key.get("/api/events", query_string={"limit": "²"}), 422, "invalid", "from 1 to 500")
    assert_error(key.get("/api/events", query_string={"limit": "0"}), 422, "invalid", "from 1 to 500")
    assert_error(billing.get("/api/events"), 403, "forbidden", "event feed")
    assert_error(key.put("/api/clinic/webhook", {"url": receiver.url}), 403, "forbidden")
    assert db_snapshot() == before


def test_the_feed_returns_every_event_once_under_concurrent_writers(demo, key, session_factory):
    numbers = demo.invoice_numbers("NS")[:8]
    seen: list[tuple[int, str]] = []
    done = threading.Event()

    def poll():
        cursor = "0"
        while True:
            finished = done.is_set()
            page = key.get("/api/events", query_string={"after": cursor, "limit": 3}).json
            seen.extend((e["position"], e["event"]["id"]) for e in page["events"])
            cursor = page["cursor"]
            if finished and not page["events"]:
                return

    reader = threading.Thread(target=poll)
    reader.start()
    results = run_together(*(lambda n=n: demo.request("billing", n) for n in numbers))
    assert not [r for r in results if isinstance(r, Exception)]
    results = run_together(*(lambda n=n: demo.decide("approver", n) for n in numbers))
    done.set()
    reader.join(60)
    with unit_of_work(session_factory, read_only=True) as s:
        stored = s.execute(select(Event.position, Event.event_id).order_by(Event.position)).all()
    assert len(stored) == 16 and [p for p, _ in stored] == list(range(1, 17))
    assert seen == [tuple(r) for r in stored]  # each once, in position order, none skipped


@pytest.mark.skipif(os.environ.get("TEST_DB") != "postgres", reason="TEST_DB=postgres runs it")
def test_two_workers_never_make_the_same_attempt(demo, webhook, session_factory):
    numbers = demo.invoice_numbers("NS")[:10]
    for number in numbers:
        demo.request("billing", number)
    made = run_together(lambda: deliver_due(session_factory), lambda: deliver_due(session_factory))
    assert sum(made) == 10
    ids = [r["id"] for r in webhook.received]
    assert len(ids) == len(set(ids)) == 10


def test_a_worker_killed_mid_attempt_loses_nothing(demo, webhook, database_url, tmp_path, session_factory):
    numbers = demo.invoice_numbers("NS")[4:6]
    for number in numbers:
        demo.request("billing", number)
    env = os.environ | {
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(tmp_path),
        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
        "WORKER_POLL_SECONDS": "0.2",
    }
    command = [sys.executable, "-m", "engine.cli", "worker"]
    webhook.hold.set()  # the first attempt hangs in the receiver
    worker = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert webhook.arrived.wait(30)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
    webhook.hold.clear()
    webhook.release.set()
    time.sleep(0.2)  # the hanging answer of the killed worker's attempt is recorded by the receiver, unseen
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(WebhookDelivery.status).order_by(WebhookDelivery.id)) == "pending"
    second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with unit_of_work(session_factory, read_only=True) as s:
                left = s.scalars(select(WebhookDelivery.status).where(WebhookDelivery.status != "delivered")).all()
            if not left:
                break
            time.sleep(0.2)
        assert not left
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
    subjects = [r["subject"] for r in webhook.received]
    assert set(subjects) == set(numbers) and subjects.count(numbers[0]) == 2  # the killed attempt, made again


def test_the_integrations_page_sets_the_webhook_and_acts_on_deliveries(web, demo, receiver, session_factory):
    admin = web("admin")
    refused = admin.post("/admin/integrations/webhook", {"url": "https://elsewhere.example/hook"})
    assert refused.status_code == 422 and "WEBHOOK_ALLOWED_HOSTS" in refused.text
    page = admin.post("/admin/integrations/webhook", {"url": receiver.url})
    secret = re.search(r'class="one-time-password"><code>(whsec_[^<]+)</code>', page.text).group(1)
    receiver.secret = secret
    assert secret not in admin.get("/admin/integrations").text  # shown once

    number = demo.invoice_numbers("NS")[6]
    demo.request("billing", number)
    receiver.status = 500
    deliver_due(session_factory)
    listing = admin.get("/admin/integrations").text
    row = re.search(r'<tr data-delivery="(\d+)">.*?</tr>', listing, re.S)
    assert number in row.group(0) and "HTTP 500" in row.group(0) and "Pending" in row.group(0)
    skipped = admin.post(f"/admin/integrations/deliveries/{row.group(1)}/skip", follow_redirects=True)
    assert "skipped: the invoice&#39;s later events go out" in skipped.text
    receiver.status = 204
    admin.post(f"/admin/integrations/deliveries/{row.group(1)}/redeliver")
    deliver_due(session_factory)
    assert receiver.delivered() == [(number, "requested")] and receiver.received[-1]["verified"]

    rotated = admin.post("/admin/integrations/webhook/secret")
    new_secret = re.search(r'class="one-time-password"><code>(whsec_[^<]+)</code>', rotated.text).group(1)
    assert new_secret != secret and "The previous" in rotated.text
    demo.decide("approver", number)
    deliver_due(session_factory)
    assert receiver.received[-1]["verified"]  # verified with the old secret: both signatures are sent
    receiver.secret = new_secret
    demo.cancel("billing", number)
    deliver_due(session_factory)
    assert receiver.received[-1]["verified"] and receiver.received[-1]["type"] == "cancelled"
    assert web("billing").post("/admin/integrations/webhook/remove").status_code == 403


@pytest.mark.skipif(os.environ.get("TEST_DB") == "postgres", reason="SQLite runs one worker at a time")
def test_on_sqlite_a_second_worker_waits_for_the_first(demo, webhook, database_url, tmp_path, session_factory):
    env = os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path), "WORKER_POLL_SECONDS": "0.2"}
    command = [sys.executable, "-m", "engine.cli", "worker"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    with (tmp_path / "worker.lock").open("a") as probe:  # wait until the first worker holds the lock
        while True:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(probe, fcntl.LOCK_UN)
            except BlockingIOError:
                break
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.05)
    log = tmp_path / "second.log"
    with log.open("w") as errors:
        second = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=errors)
    try:
        while "another worker runs on this SQLite database" not in log.read_text():
            assert time.monotonic() < deadline and second.poll() is None
            time.sleep(0.1)
        first.send_signal(signal.SIGTERM)
        first.wait(10)
        demo.request("billing", demo.invoice_numbers("NS")[7])  # the second worker takes over and delivers it
        while not webhook.delivered():
            assert time.monotonic() < deadline + 30
            time.sleep(0.1)
        assert "worker started" in log.read_text()
    finally:
        for process in (first, second):
            process.send_signal(signal.SIGTERM)
            process.wait(10)
