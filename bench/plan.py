"""The dataset in memory (seeded, no database): clinics, users, invoices and what happened to each invoice.

Approval clinics' instances are mostly completed (cancelled or rejected), a share runs (waiting on Review
request or Cancel Invoice), some were terminated and a few stopped on an incident; the direct clinic's
instances complete in one action. Times are spread over two years, running ones are recent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engine.demo import FIRST, LAST

DAYS = 730
# Free invoices per approval clinic kept for the lifecycle runs (the newest invoices without a cancellation).
RESERVE = 1500


@dataclass(frozen=True)
class ClinicPlan:
    id: int
    name: str
    mode: str
    timezone: str
    prefix: str
    share: float


CLINICS = (
    ClinicPlan(1, "Northside Clinic", "approval", "America/New_York", "NS", 0.40),
    ClinicPlan(2, "Riverside Clinic", "approval", "Europe/London", "RS", 0.30),
    ClinicPlan(3, "Hillside Clinic", "approval", "UTC", "HS", 0.20),
    ClinicPlan(4, "Lakeside Clinic", "direct", "America/Chicago", "LS", 0.10),
)
APPROVAL_USERS = {
    "billing1": ("billing_staff",),
    "billing2": ("billing_staff",),
    "billing3": ("billing_staff",),
    "supervisor": ("billing_staff", "approver"),
    "approver1": ("approver",),
    "approver2": ("approver",),
    "admin": ("admin",),
}
DIRECT_USERS = {"billing1": ("billing_staff",), "billing2": ("billing_staff",), "admin": ("admin",)}
# What happened to an approval clinic's invoice, and how often, below and from 1,000.00 (where the approval
# policy asks a clinic administrator for a second approval). A direct clinic's instances are all "direct".
SMALL_KINDS = (
    ("cancelled", 0.62),
    ("rejected", 0.11),
    ("review", 0.11),
    ("cancel", 0.07),
    ("terminated", 0.08),
    ("incident", 0.01),
)
BIG_KINDS = (
    ("cancelled_big", 0.58),
    ("rejected_big", 0.13),
    ("review_big", 0.07),
    ("second_big", 0.05),
    ("cancel_big", 0.07),
    ("terminated_big", 0.09),
    ("incident_big", 0.01),
)
BIG_AMOUNT = Decimal("1000.00")
# The user actions each kind went through, in order (who does them: templates.ROLE_OF_ACTION).
ACTIONS = {
    "review": ("request",),
    "cancel": ("request", "approve"),
    "cancelled": ("request", "approve", "cancel"),
    "rejected": ("request", "reject"),
    "terminated": ("request", "terminate"),
    "incident": ("request", "approve_failing"),
    "review_big": ("request",),
    "second_big": ("request", "approve"),
    "cancel_big": ("request", "approve", "approve2"),
    "cancelled_big": ("request", "approve", "approve2", "cancel"),
    "rejected_big": ("request", "reject"),
    "terminated_big": ("request", "approve", "terminate"),
    "incident_big": ("request", "approve", "approve2_failing"),
    "direct": ("cancel",),
}
RUNNING = {"review", "cancel", "review_big", "second_big", "cancel_big"}
TEMPLATE_KINDS = {1: tuple(k for k, _ in SMALL_KINDS + BIG_KINDS), 4: ("direct",)}


def username(clinic: ClinicPlan, name: str) -> str:
    return f"{clinic.prefix.lower()}_{name}"


@dataclass
class UserPlan:
    id: int
    username: str
    full_name: str
    clinic_id: int
    roles: tuple[str, ...]


@dataclass
class InvoicePlan:
    clinic_id: int
    date: date
    patient_name: str
    patient_id: str
    amount: Decimal
    kind: str | None = None  # None: no cancellation (yet)
    times: tuple[datetime, ...] = ()  # when each user action of the instance happened
    id: int = 0
    number: str = ""


@dataclass
class Plan:
    now: datetime
    users: list[UserPlan]
    invoices: list[InvoicePlan]  # in id order
    instances: list[InvoicePlan]  # invoices with an instance, in instance id order
    free: dict[int, list[str]]  # clinic id -> invoice numbers without an instance, newest first
    amounts: dict[str, Decimal]  # invoice number -> amount
    templates: dict[str, InvoicePlan] = field(default_factory=dict)  # kind -> invoice run through the engine

    def free_numbers(self, clinic_id: int, big: bool = False) -> list[str]:
        """Invoices without a cancellation, newest first, below 1,000.00 (or from it, when big)."""
        return [n for n in self.free[clinic_id] if (self.amounts[n] >= BIG_AMOUNT) == big]

    def users_of(self, clinic_id: int, *names: str) -> list[UserPlan]:
        prefix = next(c.prefix.lower() for c in CLINICS if c.id == clinic_id)
        return [u for u in self.users if u.clinic_id == clinic_id and u.username in {f"{prefix}_{n}" for n in names}]


def _times(rng: random.Random, kind: str, now: datetime) -> tuple[datetime, ...]:
    """When each action happened: running instances are recent, finished ones spread over two years."""
    gaps = [timedelta(hours=rng.uniform(0.2, 72)) for _ in ACTIONS[kind][1:]]
    if kind in RUNNING:
        first = now - timedelta(days=30 * rng.random() ** 2, minutes=5) - sum(gaps, timedelta())
    elif kind.startswith("incident"):
        first = now - timedelta(days=rng.uniform(5, 90))
    else:
        first = now - timedelta(days=rng.uniform(6, DAYS))
    times = [first]
    for gap in gaps:
        times.append(times[-1] + gap)
    return tuple(times)


def _invoice(rng: random.Random, clinic_id: int, day: date) -> InvoicePlan:
    """Amounts from 20.00 to 5,000.00, small ones more common (log-uniform: about 29% from 1,000.00)."""
    cents = round(math.exp(rng.uniform(math.log(2000), math.log(500000))))
    return InvoicePlan(
        clinic_id=clinic_id,
        date=day,
        patient_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        patient_id=f"P{rng.randint(100000, 999999)}",
        amount=Decimal(cents) / 100,
    )


def _users() -> list[UserPlan]:
    users = []
    for clinic in CLINICS:
        for name, roles in (APPROVAL_USERS if clinic.mode == "approval" else DIRECT_USERS).items():
            full = f"{FIRST[len(users) % len(FIRST)]} {LAST[(len(users) * 7) % len(LAST)]}"
            users.append(UserPlan(len(users) + 1, username(clinic, name), full, clinic.id, roles))
    return users


def make_plan(total_instances: int, seed: int = 20261125) -> Plan:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    invoices: list[InvoicePlan] = []
    for clinic in CLINICS:
        # The templates are instances too (made through the engine): the total stays total_instances.
        count = round(total_instances * clinic.share) - len(TEMPLATE_KINDS.get(clinic.id, ()))
        for _ in range(count):
            invoice = _invoice(rng, clinic.id, now.date())
            kinds = SMALL_KINDS if invoice.amount < BIG_AMOUNT else BIG_KINDS
            if clinic.mode == "direct":
                kinds = (("direct", 1.0),)
            invoice.kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
            invoice.times = _times(rng, invoice.kind, now)
            invoice.date = invoice.times[0].date() - timedelta(days=rng.randint(0, 45))
            invoices.append(invoice)
        free = int(count * 0.3) + (RESERVE if clinic.mode == "approval" else 50)
        for _ in range(free):
            invoices.append(_invoice(rng, clinic.id, now.date() - timedelta(days=rng.randint(0, DAYS + 45))))
    invoices.sort(key=lambda i: (i.date, i.clinic_id, i.patient_id))
    counters: dict[tuple[int, int], int] = {}
    prefixes = {c.id: c.prefix for c in CLINICS}
    for n, invoice in enumerate(invoices, start=1):
        key = (invoice.clinic_id, invoice.date.year)
        counters[key] = counters.get(key, 0) + 1
        invoice.id = n
        invoice.number = f"{prefixes[invoice.clinic_id]}-{invoice.date.year}-{counters[key]:06d}"
    instances = sorted((i for i in invoices if i.kind), key=lambda i: i.times[0])
    free_numbers = {c.id: [i.number for i in reversed(invoices) if i.clinic_id == c.id and not i.kind] for c in CLINICS}
    plan = Plan(now, _users(), invoices, instances, free_numbers, {i.number: i.amount for i in invoices})
    by_number = {i.number: i for i in invoices}
    for clinic_id, kinds in TEMPLATE_KINDS.items():
        for kind in kinds:
            # Templates are old free invoices with values easy to find again in the stored JSON.
            invoice = by_number[plan.free[clinic_id].pop()]
            invoice.patient_name, invoice.patient_id = f"Template Patient {kind}", f"PTPL-{kind}"
            invoice.amount = Decimal("4321.09") if kind.endswith("_big") else Decimal("432.19")
            plan.templates[kind] = invoice
    return plan
