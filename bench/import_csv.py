"""The bulk import of invoices, timed: 100,000 rows of the billing system's CSV into one clinic (issue 11's
target: under 60 s on SQLite)."""

from __future__ import annotations

import time
from datetime import date, timedelta

from engine.accounts.users import actor_for_clinic
from engine.db import make_engine, make_session_factory, unit_of_work
from engine.instances.operations import build_runtime
from engine.models import Clinic
from engine.usecases.invoice_import import HEADER, import_invoices

TARGET_SECONDS = 60


def csv_rows(count: int) -> bytes:
    start = date(2026, 1, 1)
    lines = [",".join(HEADER)]
    for n in range(1, count + 1):
        day = (start + timedelta(days=n % 330)).isoformat()
        lines.append(f"IMP-{n:07d},P{n:07d},Patient {n},{day},{n % 5000 + 20}.{n % 100:02d},USD,unpaid,none,0.00")
    return ("\n".join(lines) + "\n").encode()


def import_seconds(url: str, count: int = 100_000) -> float:
    """Seconds to import `count` new invoices into a new clinic of the database at `url` (one transaction)."""
    engine = make_engine(url)
    factory = make_session_factory(engine, build_runtime())
    try:
        with unit_of_work(factory) as session:
            session.add(
                Clinic(name="Import bench clinic", cancellation_mode="approval", currency="USD", timezone="UTC")
            )
        data = csv_rows(count)
        started = time.perf_counter()
        with unit_of_work(factory) as session:
            actor = actor_for_clinic(session, "Import bench clinic", "bench", frozenset({"integration"}))
            report = import_invoices(session, actor, data, "bench")
        seconds = time.perf_counter() - started
        if report.created != count or report.problems:
            raise RuntimeError(f"import bench: {report.summary} {report.problems[:3]}")
        return seconds
    finally:
        engine.dispose()
