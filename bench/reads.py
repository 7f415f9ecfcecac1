"""Read latency: p50/p95 of the monitoring lists, overview counts and the Financial Approval queue."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.accounts.users import Actor, actor_for
from engine.db import unit_of_work
from engine.demo import LAST
from engine.models import Invoice, ProcessInstance, User
from engine.reads import home, monitoring, queries
from engine.reads.monitoring import InstanceFilters
from engine.usecases import approval

TARGET_MS = 50.0
HOME_TARGET_MS = 20.0  # issue 13: Home's counts
NAME_PART = LAST[8][1:5].lower()  # "kafo": four letters from inside a family name the demo gives patients


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    who: str  # "admin" or "approver": whose Actor runs it
    run: Callable[[Session, Actor], object]
    extra: bool = False  # not in the list: measured because a page runs it on every view
    target_ms: float = TARGET_MS


@dataclass(frozen=True)
class Timing:
    key: str
    label: str
    p50: float
    p95: float
    result: str  # e.g. "total 9,943"
    extra: bool
    target_ms: float = TARGET_MS

    @property
    def ok(self) -> bool:
        return self.p95 < self.target_ms


def _total(value) -> str:
    if hasattr(value, "total"):
        return f"{value.total:,} rows, page of {len(value.items)}"
    if isinstance(value, monitoring.Overview):
        return ", ".join(f"{k} {v:,}" for k, v in value.counts.items())
    return ""


def _queue_page(session: Session, actor: Actor):
    """What the Financial Approval page reads: the queue, then each row's reason name (webapp/approvals.py)."""
    page = queries.approval_queue(session, actor)
    versions = {row.request.id: row.version for row in page.items}
    approval.reason_names(session, [row.request for row in page.items], versions)
    return page


def cases(number_prefix: str) -> list[Case]:
    return [
        Case(
            "list",
            "Instance list, unfiltered",
            "admin",
            lambda s, a: monitoring.list_instances(s, a, InstanceFilters()),
        ),
        Case(
            "list_running",
            "Instance list, status = Running",
            "admin",
            lambda s, a: monitoring.list_instances(s, a, InstanceFilters(status="running")),
        ),
        Case(
            "list_completed",
            "Instance list, status = Completed",
            "admin",
            lambda s, a: monitoring.list_instances(s, a, InstanceFilters(status="completed")),
        ),
        Case(
            "list_waiting",
            "Instance list, waiting task = Review request",
            "admin",
            lambda s, a: monitoring.list_instances(s, a, InstanceFilters(waiting_element="review_request")),
        ),
        Case(
            "list_number",
            f"Instance list, invoice number {number_prefix}…",
            "admin",
            lambda s, a: monitoring.list_instances(s, a, InstanceFilters(number=number_prefix)),
        ),
        Case("overview", "Overview counts", "admin", monitoring.overview),
        Case("queue", "Financial Approval queue (Requested)", "approver", queries.approval_queue),
        Case("queue_page", "Financial Approval page: queue + reason names", "approver", _queue_page, extra=True),
        Case(
            "home_count",
            "Every page's counts (badges, up to 99+): requests you may decide + unread notifications",
            "approver",
            home.nav_counts,
            target_ms=HOME_TARGET_MS,
        ),  # fmt: skip
        Case("home", "Home of an approver", "approver", home.home, target_ms=HOME_TARGET_MS),
        Case(
            "invoice_search",
            f"Invoice search (billing list, q = {number_prefix})",
            "approver",
            lambda s, a: queries.list_invoices(s, a, q=number_prefix),
        ),
        Case(
            "invoice_search_name",
            f"Invoice search (billing list, q = {NAME_PART!r}, inside patient names)",
            "approver",
            lambda s, a: queries.list_invoices(s, a, q=NAME_PART),
        ),
    ]


def actors(factory: sessionmaker, clinic_id: int, prefix: str) -> dict[str, Actor]:
    with unit_of_work(factory, read_only=True) as session:
        found = {}
        for who, name in (("admin", "admin"), ("approver", "approver1")):
            user_id = session.scalar(select(User.id).where(User.username == f"{prefix}_{name}"))
            found[who] = actor_for(session, user_id)
            assert found[who].clinic_id == clinic_id
        return found


def number_prefix(factory: sessionmaker, clinic_id: int) -> str:
    """The number of a running instance's invoice without its last digit: up to ten invoices match."""
    running = (ProcessInstance.clinic_id == clinic_id, ProcessInstance.status == "running")
    with unit_of_work(factory, read_only=True) as session:
        count = session.scalar(select(func.count()).select_from(ProcessInstance).where(*running))
        number = session.scalar(
            select(Invoice.number)
            .join(ProcessInstance, ProcessInstance.invoice_id == Invoice.id)
            .where(*running)
            .order_by(ProcessInstance.id)
            .offset(count // 2)
        )
    return number[:-1]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(factory: sessionmaker, actor: Actor, case: Case, runs: int, warmup: int) -> Timing:
    """Each run is what a page does: a read-only unit of work around the call (BEGIN, queries, COMMIT)."""
    samples, value = [], None
    for n in range(warmup + runs):
        start = time.perf_counter()
        with unit_of_work(factory, read_only=True) as session:
            value = case.run(session, actor)
        if n >= warmup:
            samples.append((time.perf_counter() - start) * 1000)
    return Timing(
        case.key,
        case.label,
        statistics.median(samples),
        percentile(samples, 0.95),
        _total(value),
        case.extra,
        case.target_ms,
    )


def measure_all(factory: sessionmaker, clinic_id: int, prefix: str, runs: int, warmup: int, log=print) -> list[Timing]:
    people = actors(factory, clinic_id, prefix)
    timings = []
    for case in cases(number_prefix(factory, clinic_id)):
        timing = measure(factory, people[case.who], case, runs, warmup)
        verdict = "PASS" if timing.ok else "MISS"
        log(f"  {timing.label:<52} p50 {timing.p50:7.1f} ms  p95 {timing.p95:7.1f} ms  {verdict}  ({timing.result})")
        timings.append(timing)
    return timings
