"""Issue 16 (4): the invoice search reads an index (SQLite FTS5 trigram, PostgreSQL pg_trgm) without changing
what people find: a term anywhere in the number, patient name or patient id, ignoring case also beyond ASCII; a
term of one or two characters matches the start of one of them; the index follows every change of an invoice."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import Invoice
from engine.reads.queries import list_invoices

INVOICES = (
    ("ZQ-2026-90001", "Émile Ñúñez", "PX-7781"),
    ("ZQ-2026-90002", "Omar Okafor", "QX-1234"),
    ("ZQ-2026-90003", "Zoë O'Brien_100%", "RX-5555"),
)


@pytest.fixture
def searchable(demo, session_factory):
    billing = demo.actor("billing")
    with unit_of_work(session_factory) as s:
        for number, name, patient_id in INVOICES:
            s.add(
                Invoice(
                    clinic_id=billing.clinic_id,
                    number=number,
                    patient_name=name,
                    patient_id=patient_id,
                    invoice_date=date(2026, 11, 30),
                    amount=Decimal("10.00"),
                )
            )
    return billing


def found(session_factory, actor, term: str) -> set[str]:
    with unit_of_work(session_factory, read_only=True) as s:
        page = list_invoices(s, actor, q=term, per_page=100)
        return {i.number for i in page.items}


@pytest.mark.parametrize(
    ("term", "numbers"),
    [
        ("2026-9000", {"ZQ-2026-90001", "ZQ-2026-90002", "ZQ-2026-90003"}),  # the middle of numbers
        ("zq-2026-90002", {"ZQ-2026-90002"}),  # any case
        ("ñÚÑ", {"ZQ-2026-90001"}),  # case beyond ASCII, inside a name
        ("ÉMILE", {"ZQ-2026-90001"}),
        ("r okaf", {"ZQ-2026-90002"}),  # across a space of the name
        ("x-778", {"ZQ-2026-90001"}),  # inside a patient id
        ("n_100%", {"ZQ-2026-90003"}),  # LIKE's wildcards are plain characters
        ("o'b", {"ZQ-2026-90003"}),
        ('"ok', set()),  # FTS5's syntax is plain characters too
        ("90003 Zoë", set()),  # fields are not run together
        ("zq", {"ZQ-2026-90001", "ZQ-2026-90002", "ZQ-2026-90003"}),  # short: the start of a number
        ("qx", {"ZQ-2026-90002"}),  # the start of a patient id, not the middle of a number
        ("ém", {"ZQ-2026-90001"}),  # the start of a name, beyond ASCII
        ("Z", {"ZQ-2026-90001", "ZQ-2026-90002", "ZQ-2026-90003"}),
        ("26", set()),  # short and only in the middle: no match
    ],
)
def test_a_term_finds_what_it_found_before(searchable, session_factory, term, numbers):
    assert {n for n in found(session_factory, searchable, term) if n.startswith("ZQ")} == numbers


def test_the_index_follows_a_change_of_name_and_a_deleted_invoice(searchable, session_factory):
    with unit_of_work(session_factory) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == "ZQ-2026-90002"))
        invoice.patient_name = "Olga Østergaard"
    assert found(session_factory, searchable, "stergaa") == {"ZQ-2026-90002"}
    assert found(session_factory, searchable, "okafor") == set()
    with unit_of_work(session_factory) as s:
        s.delete(s.scalar(select(Invoice).where(Invoice.number == "ZQ-2026-90003")))
    assert found(session_factory, searchable, "brien") == set()


def test_the_invoice_list_and_cancelled_list_search_the_same_way(searchable, web):
    billing = web("billing")
    page = html.unescape(billing.get("/billing/invoices?q=%C3%BA%C3%B1ez").text)  # "úñez"
    assert "ZQ-2026-90001" in page and "ZQ-2026-90002" not in page
    cancelled = billing.get("/billing/cancelled?q=%C3%BA%C3%B1ez")
    assert cancelled.status_code == 200 and "ZQ-2026-90001" not in cancelled.text  # open: not cancelled
