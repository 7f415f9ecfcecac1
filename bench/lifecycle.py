"""The cancellation lifecycle through the engine alone: its rate, and the SQL each user action costs."""

from __future__ import annotations

import multiprocessing
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import sessionmaker

from engine.accounts.users import Actor, actor_for
from engine.db import make_engine, make_session_factory, unit_of_work
from engine.instances.operations import build_runtime
from engine.models import Invoice, User
from engine.reads import queries
from engine.usecases import approval, steps

from .plan import BIG_AMOUNT, Plan

REQUEST = {"reason": "duplicate", "remarks": "Invoice was issued twice for the same visit."}
APPROVE = {"decision": "approve", "decision_remarks": ""}
CANCEL = {"cancel_remarks": "Cancelled as approved."}


# Rows an action adds for what goes out beside it (issue 16 counts them apart from what every action needs).
SIDE_TABLES = {
    "events": "events",
    "event_feeds": "events",
    "webhook_deliveries": "events",
    "timers": "timers",
    "notifications": "notifications",
    "notification_preferences": "notifications",
}
_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT\b.*?\bFROM)\s+\"?(\w+)", re.I | re.S)


@dataclass
class Cost:
    statements: int = 0
    commits: int = 0
    kinds: Counter = field(default_factory=Counter)
    side: Counter = field(default_factory=Counter)  # events | timers | notifications -> statements

    @property
    def core(self) -> int:
        """The statements every action needs: all but those of SIDE_TABLES."""
        return self.statements - sum(self.side.values())

    def words(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in self.kinds.most_common())

    def split(self) -> str:
        """ "19 + 7 (events 2, notifications 5)" """
        if not self.side:
            return str(self.statements)
        return (
            f"{self.core} + {sum(self.side.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.side.items()))
            + ")"
        )


# A read made by the code that tells people (who may decide, the requester) exists only to notify them.
_NOTIFYING = ("engine/events/notify.py", "engine/instances/telling.py")


def _read_for_notifications() -> bool:
    """The statement is a read of the notifying code (not a flush, which writes every kind of row)."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename.replace("\\", "/")
        if name.endswith("sqlalchemy/orm/session.py") and frame.f_code.co_name == "flush":
            return False
        if name.endswith(_NOTIFYING):
            return True
        frame = frame.f_back
    return False


class SqlCounter:
    """Statements sent and commits, counted with the Engine's events (BEGIN is not counted as a statement)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.current: Cost | None = None
        event.listen(engine, "before_cursor_execute", self._on_execute)
        event.listen(engine, "commit", self._on_commit)

    def _on_execute(self, _conn, _cursor, statement, _params, _context, _executemany) -> None:
        word = statement.lstrip().split(None, 1)[0].upper()
        if self.current is not None and word != "BEGIN":
            self.current.statements += 1
            self.current.kinds[word] += 1
            table = _TABLE.match(statement)
            if table and table.group(1).lower() in SIDE_TABLES:
                self.current.side[SIDE_TABLES[table.group(1).lower()]] += 1
            elif word == "SELECT" and _read_for_notifications():
                self.current.side["notifications"] += 1

    def _on_commit(self, _conn) -> None:
        if self.current is not None:
            self.current.commits += 1

    @contextmanager
    def measure(self) -> Iterator[Cost]:
        self.current = cost = Cost()
        try:
            yield cost
        finally:
            self.current = None

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine, "commit", self._on_commit)


class Invoices:
    """Hands out invoices without a cancellation, each once, per clinic and amount band."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.left = {(c, big): plan.free_numbers(c, big) for c in plan.free for big in (False, True)}

    def take(self, clinic_id: int, count: int, big: bool = False) -> list[str]:
        numbers = self.left[(clinic_id, big)]
        if len(numbers) < count:
            raise RuntimeError(f"only {len(numbers)} free invoices left in clinic {clinic_id}")
        taken, self.left[(clinic_id, big)] = numbers[:count], numbers[count:]
        return taken


def actor_named(factory: sessionmaker, username: str) -> Actor:
    with unit_of_work(factory, read_only=True) as session:
        return actor_for(session, session.scalar(select(User.id).where(User.username == username)))


def request(factory, billing: Actor, number: str) -> None:
    with unit_of_work(factory) as session:
        steps.complete_task(session, billing, number, "request_cancellation", REQUEST)


def find_request(factory, approver: Actor, number: str) -> tuple[int, int]:
    """What the approver does on Financial Approval: filter by the invoice number, open its row."""
    with unit_of_work(factory, read_only=True) as session:
        (row,) = queries.approval_queue(session, approver, number=number).items
        return row.request.id, row.review_task_id


def approve(factory, approver: Actor, request_id: int, step_id: int) -> None:
    with unit_of_work(factory) as session:
        approval.decide(session, approver, request_id, APPROVE, step_id)


def cancel(factory, billing: Actor, number: str) -> None:
    with unit_of_work(factory) as session:
        steps.complete_task(session, billing, number, "cancel_invoice", CANCEL)


def lifecycle(factory, billing: Actor, approver: Actor, number: str, admin: Actor | None = None) -> None:
    """request -> approve (-> second approval by the admin, from 1,000.00) -> cancel."""
    request(factory, billing, number)
    approve(factory, approver, *find_request(factory, approver, number))
    if admin is not None:
        approve(factory, admin, *find_request(factory, admin, number))
    cancel(factory, billing, number)


def cancelled_count(factory, numbers: list[str]) -> int:
    with unit_of_work(factory, read_only=True) as session:
        return session.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.number.in_(numbers), Invoice.status == "cancelled")
        )


def _engine_worker(url: str, lanes: list[tuple[str, str, list[str]]], warmup: int, start_line, results) -> None:
    """One process like one gunicorn worker: its own engine; its lanes' lifecycles one after the other."""
    engine = make_engine(url)
    factory = make_session_factory(engine, build_runtime())
    try:
        people = [(actor_named(factory, b), actor_named(factory, a), numbers) for b, a, numbers in lanes]
        for billing, approver, numbers in people:
            for number in numbers[:warmup]:
                lifecycle(factory, billing, approver, number)
        timed = [(b, a, n) for b, a, numbers in people for n in numbers[warmup:]]
        timed.sort(key=lambda item: item[2])  # interleave the lanes
        start_line.wait()
        start = time.perf_counter()
        for billing, approver, number in timed:
            lifecycle(factory, billing, approver, number)
        results.put((len(timed), start, time.perf_counter(), ""))
    except Exception as exc:  # reported by the parent
        start_line.abort()
        results.put((0, 0.0, 0.0, f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()


def engine_rate(url: str, lanes: list[tuple[str, str, list[str]]], warmup: int = 2, processes: int = 2) -> float:
    """Lifecycles per second through the engine alone, in as many processes as the server has workers.

    Lane i runs in process i % processes; each process warms up, then all start together. The rate is every
    timed lifecycle over the time from the first start to the last end (perf_counter is system-wide).
    """
    context = multiprocessing.get_context("spawn")
    start_line = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_engine_worker, args=(url, lanes[i::processes], warmup, start_line, results))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    finished = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    errors = [error for *_rest, error in finished if error]
    if errors:
        raise RuntimeError(f"engine lifecycles failed: {errors[0]}")
    factory = make_session_factory(make_engine(url), build_runtime())
    numbers = [n for _b, _a, lane in lanes for n in lane]
    done = cancelled_count(factory, numbers)
    factory.kw["bind"].dispose()
    if done != len(numbers):
        raise RuntimeError(f"engine lifecycles: {done} of {len(numbers)} invoices ended cancelled")
    return sum(count for count, *_ in finished) / (
        max(end for _c, _s, end, _e in finished) - min(s for _c, s, *_ in finished)
    )


def action_costs(engine: Engine, factory, plan: Plan, pool: Invoices, prefix: str, rounds: int = 3) -> dict[str, Cost]:
    """Statements and commits of each user action (the most any of `rounds` lifecycles needed), after a warm-up."""
    billing, approver, admin = (actor_named(factory, f"{prefix}_{n}") for n in ("billing1", "approver1", "admin"))
    clinic = billing.clinic_id
    lifecycle(factory, billing, approver, pool.take(clinic, 1)[0])
    counter = SqlCounter(engine)
    worst: dict[str, Cost] = {}

    def keep(name: str, cost: Cost) -> None:
        if name not in worst or cost.statements > worst[name].statements:
            worst[name] = cost

    try:
        for number, big in [(n, False) for n in pool.take(clinic, rounds)] + [(pool.take(clinic, 1, True)[0], True)]:
            assert (plan.amounts[number] >= BIG_AMOUNT) == big
            with counter.measure() as cost:
                request(factory, billing, number)
            keep("request", cost)
            found = find_request(factory, approver, number)
            with counter.measure() as cost:
                approve(factory, approver, *found)
            keep("approve", cost)
            if big:
                found = find_request(factory, admin, number)
                with counter.measure() as cost:
                    approve(factory, admin, *found)
                keep("second_approval", cost)
            with counter.measure() as cost:
                cancel(factory, billing, number)
            keep("cancel", cost)
    finally:
        counter.close()
    return worst
