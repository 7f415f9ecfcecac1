"""Webhook deliveries per second: events already written (as the outbox writes them), delivered by one or two
`python -m engine.cli worker` processes to a local receiver that verifies each signature (bench.receiver).

The workers are started first and find nothing to do; then 2,000 events of 200 invoices are committed at once,
and the clock runs until the receiver has all of them. SQLite runs one worker at a time by design (a second one
waits for the first), so two workers are measured on PostgreSQL only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal

from engine.db import make_engine, make_session_factory, unit_of_work
from engine.events.outbox import RETRY_FOR, cloudevent_json
from engine.events.webhooks import new_secret
from engine.instances.operations import build_runtime
from engine.models import Clinic, Event, Invoice, WebhookDelivery, utcnow
from engine.vocabulary import EventType

from .receiver import Receiver

INVOICES, PER_INVOICE = 200, 10


def _prepare(factory, url_of_receiver: str, secret: str) -> int:
    with unit_of_work(factory) as s:
        clinic = Clinic(name=f"Events bench {uuid.uuid4().hex[:6]}", cancellation_mode="approval", currency="USD",
                        timezone="UTC", webhook_url=url_of_receiver, webhook_secret=secret)  # fmt: skip
        s.add(clinic)
        s.flush()
        s.add_all(
            Invoice(
                clinic_id=clinic.id,
                number=f"EV-{n:05d}",
                patient_name=f"Patient {n}",
                patient_id=f"P{n}",
                invoice_date=date(2026, 11, 1),
                amount=Decimal("10.00"),
                status="open",
            )  # fmt: skip
            for n in range(INVOICES)
        )
        return clinic.id


def _write_events(factory, clinic_id: int, receiver_url: str) -> int:
    now = utcnow()
    with unit_of_work(factory) as s:
        invoices = s.query(Invoice).filter(Invoice.clinic_id == clinic_id).order_by(Invoice.id).all()
        position = 0
        for round_ in range(PER_INVOICE):
            for invoice in invoices:
                position += 1
                event_id = str(uuid.uuid4())
                data = {"invoice": {"number": invoice.number}, "request": None, "by": None, "remarks": f"#{round_}"}
                body = cloudevent_json(event_id, clinic_id, EventType.REQUESTED, invoice.number, now, data)
                event = Event(event_id=event_id, clinic_id=clinic_id, invoice_id=invoice.id, position=position,
                              type=EventType.REQUESTED.cloudevent_type, time=now, body=body)  # fmt: skip
                s.add(WebhookDelivery(event=event, clinic_id=clinic_id, invoice_id=invoice.id, url=receiver_url,
                                      next_attempt_at=now, give_up_at=now + RETRY_FOR))  # fmt: skip
        return position


def delivery_rate(url: str, workers: int, timeout: float = 300) -> float:
    """Events delivered per second by `workers` worker processes on the (empty, migrated) database at `url`."""
    engine = make_engine(url)
    factory = make_session_factory(engine, build_runtime())
    secret = new_secret()
    receiver = Receiver(secret=secret, quiet=True).start()
    folder = tempfile.mkdtemp(prefix="bench_worker_")
    env = os.environ | {"DATABASE_URL": url, "INSTANCE_PATH": folder, "WORKER_POLL_SECONDS": "0.05"}
    processes = []
    try:
        clinic_id = _prepare(factory, receiver.url, secret)
        command = [sys.executable, "-m", "engine.cli", "worker"]
        processes = [
            subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        time.sleep(3)  # the workers are up and idle
        started = time.perf_counter()
        total = _write_events(factory, clinic_id, receiver.url)
        deadline = started + timeout
        while receiver.count < total:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"events bench: {receiver.count} of {total} delivered in {timeout} s")
            time.sleep(0.02)
        return total / (time.perf_counter() - started)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)
        receiver.stop()
        engine.dispose()


if __name__ == "__main__":  # pragma: no cover - by hand: python -m bench.events URL WORKERS
    print(f"{delivery_rate(sys.argv[1], int(sys.argv[2])):.1f} events/s")
