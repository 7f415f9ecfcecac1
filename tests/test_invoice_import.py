"""Issue 11: invoices imported from the billing system's CSV export (engine and command line)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.errors import Invalid
from engine.models import AuditEvent, Invoice
from engine.usecases.invoice_import import HEADER, import_invoices

GOOD = [
    "NS-CSV-1,P-1,Maria Tanaka,2026-11-30,120.50,USD,unpaid,none,0.00",
    "NS-CSV-2,P-2,James Smith,2026-11-29,80.00,USD,paid,submitted,",
]
BAD = [
    "NS-CSV-3,P-3,Aisha Khan,2026-11-28,abc,USD,unpaid,none,0.00",  # line 4
    "NS-CSV-4,P-4,Chen Wang,2026-02-30,10.00,USD,unpaid,none,0.00",  # line 5
    "NS-CSV-5,P-5,Olga Petrova,2026-11-28,10.00,EUR,unpaid,none,0.00",  # line 6
    "NS-CSV-6,P-6,Pedro Silva,2026-11-28,10.00,USD,settled,none,0.00",  # line 7
    "NS-CSV-1,P-1,Maria Tanaka,2026-11-30,120.50,USD,unpaid,none,0.00",  # line 8: duplicate of line 2
    "NS-CSV-7,P-7,Fatima Haddad,2026-11-28,-5.00,USD,unpaid,none,0.00",  # line 9
    "NS-CSV-8,P-8,Liam Murphy,2026-11-28,1.005,USD,unpaid,none,0.00",  # line 10
]


def _csv(*lines: str) -> bytes:
    return ("\n".join([",".join(HEADER), *lines]) + "\n").encode()


def _run(session_factory, demo, data: bytes):
    with unit_of_work(session_factory) as s:
        return import_invoices(s, demo.actor("admin"), data, "CSV import (test)")


def test_valid_rows_are_imported_invalid_ones_reported_by_line_and_field(demo, session_factory, db_snapshot):
    report = _run(session_factory, demo, _csv(*GOOD, *BAD))
    assert (report.rows, report.created, report.updated, report.unchanged) == (9, 2, 0, 0)
    assert report.problems == [
        "line 4: amount 'abc' is not an amount: send a string with two decimal places, e.g. \"120.50\".",
        "line 5: invoice_date '2026-02-30' is not a date: send YYYY-MM-DD (in America/New_York).",
        "line 6: currency 'EUR' is not the clinic's: Northside Clinic bills in USD.",
        "line 7: payment_status 'settled' is not one of: unpaid, partially_paid, paid.",
        "line 8: number NS-CSV-1 is already on line 2",
        "line 9: amount '-5.00' is not an amount: send a string with two decimal places, e.g. \"120.50\".",
        "line 10: amount '1.005' is not an amount: send a string with two decimal places, e.g. \"120.50\".",
    ]
    with unit_of_work(session_factory, read_only=True) as s:
        imported = s.scalar(select(Invoice).where(Invoice.number == "NS-CSV-2"))
        assert imported.payment_status == "paid" and imported.claim_status == "submitted"
        assert s.scalar(select(func.count(Invoice.id)).where(Invoice.number.like("NS-CSV-%"))) == 2
        event = s.scalar(select(AuditEvent).where(AuditEvent.invoice_id == imported.id))
        assert event.action == "invoice_received" and event.details_dict["source"] == "CSV import (test)"

    before = db_snapshot()
    again = _run(session_factory, demo, _csv(*GOOD, *BAD))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert db_snapshot() == before  # the same file again changes nothing

    changed = _run(session_factory, demo, _csv(GOOD[0].replace(",unpaid,", ",paid,")))
    assert changed.updated == 1


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"number,patient\nNS-1,X\n", "missing: patient_id"),
        (_csv(GOOD[0]).replace(b"Maria", b"M\xe4ria"), "not UTF-8"),
        (_csv(GOOD[0]).replace(b"advance_applied", b"advance"), "unknown: advance"),
    ],
)
def test_a_file_that_is_not_the_export_is_refused_whole(demo, session_factory, db_snapshot, data, words):
    before = db_snapshot()
    with pytest.raises(Invalid, match=words):
        _run(session_factory, demo, data)
    assert db_snapshot() == before


def test_the_command_line_imports_with_a_summary_and_a_dry_run_writes_nothing(
    demo, database_url, session_factory, tmp_path, db_snapshot
):
    path = tmp_path / "export.csv"
    path.write_bytes(_csv(*GOOD, BAD[0]))
    env = os.environ | {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path)}
    command = [sys.executable, "-m", "engine.cli", "import-invoices", str(path), "--clinic", "northside clinic"]
    before = db_snapshot()
    dry = subprocess.run([*command, "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run, nothing written: 3 rows: 2 created, 0 updated, 0 unchanged, 1 refused." in dry.stdout
    assert "line 4: amount 'abc'" in dry.stdout
    assert db_snapshot() == before
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "3 rows: 2 created" in done.stdout
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(func.count(Invoice.id)).where(Invoice.number.like("NS-CSV-%"))) == 2
    unknown = subprocess.run([*command[:-1], "Hillside"], env=env, capture_output=True, text=True)
    assert unknown.returncode == 1 and "There is no clinic named Hillside" in unknown.stderr


def test_the_import_page_reports_and_a_dry_run_writes_nothing(web, demo, db_snapshot):
    import io

    admin = web("admin")
    before = db_snapshot()
    dry = admin.post(
        "/admin/invoices/import",
        {"file": (io.BytesIO(_csv(*GOOD, BAD[0])), "export.csv"), "dry_run": "1"},
        content_type="multipart/form-data",
    )
    assert dry.status_code == 200 and "Dry run, nothing written: 3 rows: 2 created" in dry.text
    assert "line 4: amount &#39;abc&#39;" in dry.text
    assert db_snapshot() == before
    missing = admin.post("/admin/invoices/import", {}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose the CSV file" in missing.text
    done = admin.post(
        "/admin/invoices/import",
        {"file": (io.BytesIO(_csv(*GOOD)), "export.csv")},
        content_type="multipart/form-data",
    )
    assert "Imported: 2 rows: 2 created" in done.text
    assert web("billing").get("/admin/invoices/import").status_code == 403


def _many(n: int) -> bytes:
    rows = [f"NS-BULK-{i:05d},P-{i},Patient {i},2026-11-01,10.00,USD,unpaid,none,0.00" for i in range(n)]
    rows[10] = rows[10].replace("10.00", "ten")  # line 12
    return _csv(*rows)


def _streamed(admin, data: bytes, dry_run: bool = False, **kwargs):
    form = {"file": (io.BytesIO(data), "export.csv")} | ({"dry_run": "1"} if dry_run else {})
    return admin.post(
        "/admin/invoices/import",
        form,
        content_type="multipart/form-data",
        headers={"Accept": "application/x-ndjson"},
        **kwargs,
    )


def _bulk_count(session_factory) -> int:
    with unit_of_work(session_factory, read_only=True) as s:
        return s.scalar(select(func.count(Invoice.id)).where(Invoice.number.like("NS-BULK-%")))


def test_the_import_page_streams_its_progress_then_the_same_report(web, demo, session_factory, db_snapshot):
    import json

    admin = web("admin")
    before = db_snapshot()
    dry = [json.loads(line) for line in _streamed(admin, _many(4500), dry_run=True).text.splitlines()]
    assert [m["done"] for m in dry[:-1]] == [2000, 4000, 4500] and {m["total"] for m in dry[:-1]} == {4500}
    assert dry[-1]["report"]["summary"] == "4500 rows: 4499 created, 0 updated, 0 unchanged, 1 refused."
    assert dry[-1]["report"]["dry_run"] is True and dry[-1]["report"]["problems"][0].startswith("line 12: amount")
    assert db_snapshot() == before

    done = _streamed(admin, _many(4500))
    assert done.mimetype == "application/x-ndjson"
    last = json.loads(done.text.splitlines()[-1])
    assert last["report"]["summary"].startswith("4500 rows: 4499 created") and not last["report"]["dry_run"]
    assert _bulk_count(session_factory) == 4499
    bad = json.loads(_streamed(admin, b"number;amount\n1;2\n").text)
    assert "The header row must name" in bad["error"]


def test_an_import_left_half_way_writes_nothing(web, demo, session_factory, db_snapshot):
    admin = web("admin")
    before = db_snapshot()
    response = _streamed(admin, _many(4500), buffered=False)
    first = next(iter(response.response))
    assert b'"done": 2000' in first
    response.close()  # the browser went away: the import's unit of work rolls back
    assert _bulk_count(session_factory) == 0 and db_snapshot() == before
