"""Demo data for `make run` only (never in production config): two clinics, their users and invoices."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .accounts.users import hash_password
from .models import Clinic, Invoice, RoleGrant, User, utcnow
from .usecases.blockers import refresh_stale
from .vocabulary import InvoiceStatus

DEMO_PASSWORD = "demo"  # noqa: S105 - documented demo password, seeded by `make run` only
CLINICS = [
    ("Northside Clinic", "approval", "USD", "America/New_York", "NS"),
    ("Lakeside Clinic", "direct", "USD", "America/Chicago", "LS"),
]
USERS = [
    ("billing", "Bella Billing", "Northside Clinic", ["billing_staff"]),
    ("approver", "Arjun Approver", "Northside Clinic", ["approver"]),
    ("supervisor", "Sam Supervisor", "Northside Clinic", ["billing_staff", "approver"]),
    ("admin", "Ada Admin", "Northside Clinic", ["admin"]),
    ("lakeside", "Lee Lakeside", "Lakeside Clinic", ["billing_staff"]),
    ("analyst", "Ana Analyst", None, ["analyst"]),  # installation-wide, no clinic
    ("root", "Rita Root", None, ["installation_admin"]),  # installation-wide: clinics and their administrators
]
FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Chen",
    "Olga",
    "Pedro",
    "Fatima",
    "Liam",
    "Noah",
    "Yuki",
    "Amara",
    "Ivan",
    "Sofia",
    "Kwame",
    "Elena",
    "Omar",
    "Grace",
    "Mateo",
    "Hana",
    "Lucas",
]
LAST = [
    "Garcia",
    "Smith",
    "Khan",
    "Wang",
    "Petrova",
    "Silva",
    "Haddad",
    "Murphy",
    "Okafor",
    "Tanaka",
    "Rossi",
    "Novak",
    "Johnson",
    "Mensah",
    "Costa",
    "Nguyen",
    "Müller",
    "Andersen",
    "Cohen",
    "Brown",
]


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Clinic)) and not session.scalar(
        select(func.count()).select_from(User)
    )


def seed_demo(session: Session, invoices_per_clinic: int = 300, seed: int = 7) -> None:
    """Fill an empty database with the README's demo clinics, users and invoices."""
    rng = random.Random(seed)
    clinics = {}
    for name, mode, currency, tz, _prefix in CLINICS:
        clinics[name] = Clinic(name=name, cancellation_mode=mode, currency=currency, timezone=tz)
        session.add(clinics[name])
    session.flush()
    password = hash_password(DEMO_PASSWORD)
    for username, full_name, clinic, roles in USERS:
        domain = (clinic or "installation").split()[0].lower()
        email = f"{username}@{domain}.example"
        user = User(username=username, full_name=full_name, password_hash=password, email=email)
        session.add(user)
        session.flush()
        clinic_id = clinics[clinic].id if clinic else None
        session.add_all(RoleGrant(user_id=user.id, clinic_id=clinic_id, role=r) for r in roles)
    for name, _mode, _currency, tz, prefix in CLINICS:
        today = utcnow().astimezone(ZoneInfo(tz)).date()  # an invoice's date is a day of its clinic's calendar
        for n in range(1, invoices_per_clinic + 1):
            cents = rng.randint(2000, 500000)
            session.add(
                Invoice(
                    clinic_id=clinics[name].id,
                    number=f"{prefix}-{today.year}-{n:05d}",
                    patient_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    patient_id=f"P{rng.randint(100000, 999999)}",
                    invoice_date=today - timedelta(days=invoices_per_clinic - n),
                    amount=Decimal(cents) / 100,
                    status=InvoiceStatus.OPEN,
                    payment_status=_payment(n),
                    claim_status=_claim(n),
                )
            )

    session.flush()
    refresh_stale(session)  # the blockers' verdict of each demo invoice (reads never evaluate the table)


def _payment(n: int) -> str:
    """Most demo invoices are unpaid; some are paid or partly paid (deterministic: the amounts stay the same)."""
    return "paid" if n % 9 == 0 else "partially_paid" if n % 13 == 0 else "unpaid"


def _claim(n: int) -> str:
    return "accepted" if n % 17 == 0 else "submitted" if n % 7 == 0 else "none"


def add_demo_api_key(session: Session) -> str:
    """Northside's billing system gets an API key, as its clinic administrator would create it; returned once."""
    from .accounts.users import actor_for  # noqa: PLC0415 - the demo only
    from .usecases.integrations import create_key  # noqa: PLC0415

    admin = session.scalar(select(User).where(User.username == "admin"))
    _message, key, _id = create_key(session, actor_for(session, admin.id), "Demo billing system")
    return key
