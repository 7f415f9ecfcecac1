"""`make bench` (`.venv/bin/python -m bench.run`): fill SQLite and PostgreSQL, measure, print the table."""

from __future__ import annotations

import argparse
import os
import statistics
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

# Concurrent simulated users: (clinic id, clinic prefix, billing user, approver). One process (or gunicorn worker)
# serves the first two pairs; two serve all four (twice the pairs, issue 16).
LANES = ((1, "ns", "billing1", "approver1"), (2, "rs", "billing1", "approver1"), (3, "hs", "billing1", "approver1"))
LANES += ((1, "ns", "billing2", "approver2"),)
PAIRS = {1: LANES[:2], 2: LANES}
MEASURED_CLINIC, MEASURED_PREFIX = 1, "ns"
WARMUP_LIFECYCLES = 2
RUNS = 3  # each rate is the median of this many runs at the same load
ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2  # gunicorn workers, as `make run` starts it


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


def _lanes(pool: Invoices, count: int, processes: int) -> list[tuple[str, str, list[str]]]:
    """Fresh invoices for one run of `count` lifecycles by the pairs of users `processes` serve."""
    pairs = PAIRS[processes]
    per_lane = -(-count // len(pairs)) + WARMUP_LIFECYCLES
    return [(f"{p}_{b}", f"{p}_{a}", pool.take(c, per_lane)) for c, p, b, a in pairs]


def _rates(factory, pool: Invoices, args, result: report.Result, url: str) -> None:
    """Engine functions in 1 and 2 processes, HTTP with 1 and 2 gunicorn workers: each the median of RUNS runs;
    the POSTs' milliseconds are kept from the one-worker runs."""
    for processes in (1, 2):
        rates = []
        for run in range(RUNS):
            lanes = _lanes(pool, args.lifecycles, processes)
            rates.append(engine_rate(url, lanes, WARMUP_LIFECYCLES, processes))
            _log(f"  engine functions, {processes} process(es), run {run + 1}: {rates[-1]:.2f} lifecycles/s")
        result.engine_rates[processes] = statistics.median(rates)
    for workers in (1, 2):
        rates = []
        with gunicorn(url, workers) as base:
            for run in range(RUNS):
                lanes = _lanes(pool, args.lifecycles, workers)
                rate, posts = http_rate(base, lanes, WARMUP_LIFECYCLES)
                rates.append(rate)
                numbers = [n for _b, _a, lane in lanes for n in lane]
                if cancelled_count(factory, numbers) != len(numbers):
                    raise RuntimeError("HTTP lifecycles: not every invoice ended cancelled")
                if workers == 1:
                    for kind, times in posts.items():
                        result.post_ms.setdefault(kind, []).extend(times)
                _log(f"  HTTP, {workers} worker(s), run {run + 1}: {rate:.2f} lifecycles/s")
        result.http_rates[workers] = statistics.median(rates)


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
            _log(f"  {name:<16} engine: {cost.split()} statements, {cost.commits} commit(s) ({cost.words()})")
        billing, approver = f"{MEASURED_PREFIX}_billing1", f"{MEASURED_PREFIX}_approver1"
        result.http_costs = http_costs(url, billing, approver, pool.take(MEASURED_CLINIC, 2))
        for name, cost in result.http_costs.items():
            _log(f"  {name:<16} HTTP POST: {cost.split()} statements, {cost.commits} commit(s) ({cost.words()})")
        _log(f"  lifecycle rates ({args.lifecycles} per run, median of {RUNS} runs) ...")
        _rates(factory, pool, args, result, url)
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


def _floor(args) -> tuple[float, int] | None:
    """The floor (issue 16): SpiffWorkflow and SQLite alone, median of RUNS runs; None when SQLite is not run."""
    if args.only == "postgresql":
        return None
    _log("== the floor: SpiffWorkflow and SQLite alone (bench/floor.py)")
    rate, state = floor_rate(args.lifecycles, RUNS)
    _log(f"  {rate:.1f} lifecycles/s, {state:,} bytes of state per instance")
    return rate, state


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
    floor = _floor(args)
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
        "pairs": {n: len(p) for n, p in PAIRS.items()},
        "runs_per_rate": RUNS,
        "lifecycles": args.lifecycles,
        "floor": floor,
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
    table += _timer_lines(results)
    table += _events_lines(args)
    path = report.write(table)
    _log("")
    _log(table)
    _log(f"(written to {path.relative_to(path.parent.parent)}; {time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
