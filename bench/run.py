"""`make bench` (`.venv/bin/python -m bench.run`): fill SQLite and PostgreSQL, measure, print the table."""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

from sqlalchemy import text

from engine.db import make_engine, make_session_factory
from engine.instances.operations import build_runtime

from . import dbs, report
from .events import delivery_rate
from .fill import fill
from .floor import floor_rate
from .import_csv import TARGET_SECONDS as IMPORT_TARGET
from .import_csv import import_seconds
from .lifecycle import Invoices, action_costs, cancelled_count, engine_rate
from .plan import make_plan
from .reads import measure_all
from .timers import fire_rate
from .web import gunicorn, http_rate
from .webcost import http_costs

# Concurrent simulated users for the HTTP run: (clinic id, clinic prefix, billing user, approver).
LANES = ((1, "ns", "billing1", "approver1"), (2, "rs", "billing1", "approver1"), (3, "hs", "billing1", "approver1"))
LANES += ((1, "ns", "billing2", "approver2"),)
MEASURED_CLINIC, MEASURED_PREFIX = 1, "ns"
WARMUP_LIFECYCLES = 2
ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2  # gunicorn workers, as `make run` starts it; engine-only runs in as many processes


# Instances whose two timers are made due: one worker fires 1,000 timers; two workers on PostgreSQL fire 10,000
# (issue 14: each exactly once, checked from the rows and the audit).
TIMER_INSTANCES = {1: 500, 2: 5000}


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=100_000, help="process instances to fill (default 100000)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per read (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up runs per read (default 20)")
    parser.add_argument("--lifecycles", type=int, default=200, help="lifecycles per rate (default 200)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="run one database only")
    return parser.parse_args()


def _log(message: str) -> None:
    print(message, flush=True)


def _lanes(pool: Invoices, count: int) -> list[tuple[int, str, str, str, list[str]]]:
    per_lane = -(-count // len(LANES)) + WARMUP_LIFECYCLES
    return [(c, p, b, a, pool.take(c, per_lane)) for c, p, b, a in LANES]


def bench_database(kind: str, url: str, plan, args) -> report.Result:
    result = report.Result()
    engine = make_engine(url)
    factory = make_session_factory(engine, build_runtime())
    try:
        if kind == "postgresql":
            with engine.connect() as conn:
                result.server_version = "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar().split()[0]
        _log(f"  filling {args.instances:,} instances ...")
        result.fill = fill(engine, factory, plan)
        _log(
            f"  filled in {result.fill.seconds:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in result.fill.rows.items())
        )
        _log(f"  reads ({args.runs} runs after {args.warmup} warm-up):")
        result.timings = measure_all(factory, MEASURED_CLINIC, MEASURED_PREFIX, args.runs, args.warmup, _log)
        pool = Invoices(plan)
        result.costs = action_costs(engine, factory, plan, pool, MEASURED_PREFIX)
        for name, cost in result.costs.items():
            _log(f"  {name:<16} engine: {cost.statements} statements, {cost.commits} commit(s) ({cost.words()})")
        billing, approver = f"{MEASURED_PREFIX}_billing1", f"{MEASURED_PREFIX}_approver1"
        result.http_costs = http_costs(url, billing, approver, pool.take(MEASURED_CLINIC, 2))
        for name, cost in result.http_costs.items():
            _log(f"  {name:<16} HTTP POST: {cost.statements} statements, {cost.commits} commit(s) ({cost.words()})")
        engine_lanes = [(f"{p}_{b}", f"{p}_{a}", numbers) for _c, p, b, a, numbers in _lanes(pool, args.lifecycles)]
        count = sum(len(n) for _b, _a, n in engine_lanes)
        _log(f"  engine-only lifecycles ({count}, {len(engine_lanes)} lanes in {WORKERS} processes) ...")
        result.engine_rate = engine_rate(url, engine_lanes, WARMUP_LIFECYCLES, WORKERS)
        _log(f"  engine only: {result.engine_rate:.2f} lifecycles/s")
        web_lanes = [(f"{p}_{b}", f"{p}_{a}", numbers) for _c, p, b, a, numbers in _lanes(pool, args.lifecycles)]
        _log(f"  HTTP lifecycles ({sum(len(n) for _b, _a, n in web_lanes)}, {len(web_lanes)} pairs of users) ...")
        with gunicorn(url, WORKERS) as base:
            result.http_rate = http_rate(base, web_lanes, WARMUP_LIFECYCLES)
        numbers = [n for _b, _a, lane in web_lanes for n in lane]
        if cancelled_count(factory, numbers) != len(numbers):
            raise RuntimeError("HTTP lifecycles: not every invoice ended cancelled")
        _log(
            f"  HTTP: {result.http_rate:.2f} lifecycles/s ({result.http_rate / result.engine_rate:.2f} of engine only)"
        )
        for workers in (1, 2) if kind == "postgresql" else (1,):  # SQLite runs one worker by design
            count = TIMER_INSTANCES[workers]
            _log(f"  timers: {count} instances' Reminder and Escalate due, {workers} worker(s) ...")
            result.timer_rates[workers] = fire_rate(url, count, workers)
            _log(f"  {result.timer_rates[workers][0]:.1f} timers/s ({result.timer_rates[workers][1]} fired once each)")
    finally:
        engine.dispose()
    return result


def _timer_lines(results: dict) -> str:
    lines = []
    for kind, label in report.KINDS:
        for workers, (rate, fired) in results[kind].timer_rates.items():
            lines.append(f"- {label}, {workers} worker(s): {rate:.1f} timers/s ({fired:,} timers, each fired once)")
    if not lines:
        return ""
    head = (
        "\nTimers fired by the worker's function (Reminder and Escalate of instances waiting at Review request, "
        "due at once; each firing loads, fires and saves its workflow):\n"
    )
    return head + "\n".join(lines) + "\n"


def _floor_lines(results: dict, lifecycles: int) -> str:
    """The floor (issue 16) and each SQLite lifecycle rate as a share of it."""
    _log("== the floor: SpiffWorkflow and SQLite alone (bench/floor.py)")
    rate, state = floor_rate(lifecycles)
    _log(f"  {rate:.1f} lifecycles/s, {state:,} bytes of state per instance")
    lines = [
        f"- floor, 1 process: {rate:.1f} lifecycles/s (median of 3 runs of {lifecycles}); whole state per instance "
        f"{state / 1024:.1f} KB"
    ]
    sqlite = results["sqlite"]
    for label, value in (
        (f"engine functions, {WORKERS} processes", sqlite.engine_rate),
        (f"HTTP, gunicorn with {WORKERS} workers", sqlite.http_rate),
    ):
        if value:
            lines.append(f"- {label}: {value:.1f} lifecycles/s = {value / rate:.0%} of the floor")
    head = (
        "\nThe floor on SQLite: request, approve and cancel with SpiffWorkflow 3.2.0 alone on the shipped diagram "
        "(read, deserialize, complete, engine steps, serialize, write, commit; the project's restricted script "
        "environment, operations doing nothing), and the project's rates beside it:\n"
    )
    return head + "\n".join(lines) + "\n"


def _commit() -> str:
    """The commit measured (others change the code meanwhile), marked when the tree has local changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "engine", "webapp", "migrations"], capture_output=True, text=True, cwd=ROOT
        )
    except OSError:
        return "unknown"
    return head.stdout.strip() + (" with local changes" if dirty.stdout.strip() else "") or "unknown"


def _events_lines(args) -> str:
    """Webhook deliveries per second to a local receiver: SQLite (one worker by design), PostgreSQL 1 and 2."""
    runs = [("sqlite", 1)] if args.only != "postgresql" else []
    if args.only != "sqlite" and not dbs.postgres_problem(dbs.postgres_base_url()):
        runs += [("postgresql", 1), ("postgresql", 2)]
    lines = []
    for kind, workers in runs:
        _log(f"== webhook deliveries, {kind}, {workers} worker(s)")
        with dbs.database(kind) as url:
            rate = delivery_rate(url, workers)
        _log(f"  {rate:.1f} events/s")
        lines.append(f"- {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}, {workers} worker(s): {rate:.1f} events/s")
    if not lines:
        return ""
    head = "\nWebhook deliveries to a local receiver that verifies each signature (2,000 events of 200 invoices):\n"
    return head + "\n".join(lines) + "\n"


def main() -> None:
    args = _args()
    started = time.perf_counter()
    commit = _commit()
    plan = make_plan(args.instances)
    results = {"sqlite": report.Result(), "postgresql": report.Result()}
    for kind, label in report.KINDS:
        if args.only and kind != args.only:
            results[kind].skipped = "not asked for (--only)"
            continue
        if kind == "postgresql":
            problem = dbs.postgres_problem(dbs.postgres_base_url())
            if problem:
                results[kind].skipped = f"PostgreSQL at {dbs.postgres_base_url()} is unreachable ({problem})"
                _log(f"== {label}: SKIPPED, {results[kind].skipped}")
                continue
        _log(f"== {label}")
        with dbs.database(kind) as url:
            results[kind] = bench_database(kind, url, plan, args)
    meta = {
        "runs": args.runs,
        "warmup": args.warmup,
        "lanes": len(LANES),
        "workers": WORKERS,
        "commit": commit,
        "cpus": os.cpu_count(),
    }
    table = report.render(results, meta)
    if args.only in (None, "sqlite"):
        _log("== CSV import of 100,000 invoices (SQLite)")
        with dbs.database("sqlite") as url:
            seconds = import_seconds(url)
        verdict = "met" if seconds < IMPORT_TARGET else "MISSED"
        table += f"\nCSV import of 100,000 invoices on SQLite, one transaction: {seconds:.1f} s "
        table += f"(target under {IMPORT_TARGET} s: {verdict})\n"
    if args.only in (None, "sqlite"):
        table += _floor_lines(results, args.lifecycles)
    table += _timer_lines(results)
    table += _events_lines(args)
    path = report.write(table)
    _log("")
    _log(table)
    _log(f"(written to {path.relative_to(path.parent.parent)}; {time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
