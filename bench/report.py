"""The results as one markdown table (copy-pastable into the README), also written to bench/results.md."""

from __future__ import annotations

import platform
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from .fill import FillInfo
from .lifecycle import Cost
from .reads import TARGET_MS, Timing

RESULTS = Path(__file__).resolve().parent / "results.md"
MAX_STATEMENTS = 15  # per user action: fewer than this
RATIO_TARGET = 0.5
ACTIONS = (
    ("request", "Request (Invoice Cancellation Request)"),
    ("approve", "Approve (Financial Approval review)"),
    ("second_approval", "Second approval (from 1,000.00, clinic administrator)"),
    ("cancel", "Cancel Invoice"),
)
KINDS = (("sqlite", "SQLite"), ("postgresql", "PostgreSQL"))


@dataclass
class Result:
    skipped: str = ""
    fill: FillInfo | None = None
    timings: list[Timing] = field(default_factory=list)
    costs: dict[str, Cost] = field(default_factory=dict)
    http_costs: dict[str, Cost] = field(default_factory=dict)
    engine_rate: float | None = None
    http_rate: float | None = None
    server_version: str = ""
    timer_rates: dict[int, tuple[float, int]] = field(default_factory=dict)  # workers -> (timers/s, fired)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _cell(result: Result, fn) -> str:
    if result.skipped:
        return "skipped"
    try:
        return fn(result)
    except (KeyError, TypeError, StopIteration):
        return "—"


def _timing(key: str):
    def cell(r: Result) -> str:
        t = next(t for t in r.timings if t.key == key)
        return f"{t.p50:.1f} / {t.p95:.1f} ms {_verdict(t.ok)}"

    return cell


def _cost(key: str, target: bool = True):
    def cell(r: Result) -> str:
        c = (r.costs if target else r.http_costs)[key]
        if not target:
            return f"{c.statements} / {c.commits}"
        return f"{c.statements} / {c.commits} {_verdict(c.statements < MAX_STATEMENTS and c.commits == 1)}"

    return cell


def _lifecycle_total(r: Result) -> str:
    costs = [r.costs[k] for k in ("request", "approve", "cancel")]
    return f"{sum(c.statements for c in costs)} / {sum(c.commits for c in costs)}"


def _rate(attr: str):
    return lambda r: f"{getattr(r, attr):.2f} /s"


def _ratio(r: Result) -> str:
    ratio = r.http_rate / r.engine_rate
    return f"{ratio:.2f} {_verdict(ratio >= RATIO_TARGET)}"


def _header(results: dict[str, Result], meta: dict) -> list[str]:
    filled = next((r.fill for r in results.values() if r.fill), None)
    lines = ["## Benchmark", ""]
    if filled:
        rows = filled.rows
        largest = max(filled.instances_per_clinic.values())
        fills = ", ".join(f"{label} {results[k].fill.seconds:.0f} s" for k, label in KINDS if results[k].fill)
        lines.append(
            f"`make bench` on {rows['process_instances']:,} process instances in {len(filled.instances_per_clinic)} "
            f"clinics (measured: the largest, {largest:,} instances), {rows['invoices']:,} invoices, "
            f"{rows['user_tasks']:,} user tasks, {rows['cancellation_requests']:,} requests and "
            f"{rows['audit_events']:,} audit events, bulk-inserted in {fills}."
        )
    lines += [
        f"Reads: p50 / p95 of {meta['runs']} runs after {meta['warmup']} warm-up, each in a read-only unit of work, "
        "as the clinic's administrator (lists, overview) or approver (queue). Lifecycle = request → approve → "
        f"cancel on invoices below 1,000.00, {meta['lanes']} billing + approver pairs at once; engine only: the "
        f"engine's functions in {meta['workers']} processes; HTTP: gunicorn with {meta['workers']} workers, each user "
        "logged in once, the approver filtering Financial Approval by the number and opening Review. Statements "
        "and commits per action through the engine (BEGIN not counted); the HTTP rows add loading the "
        "logged-in user.",
        f"Code: commit {meta['commit']}. Machine: {meta['cpus']} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
        + "".join(f", {r.server_version}" for r in results.values() if r.server_version)
        + ".",
        "",
    ]
    return lines


def render(results: dict[str, Result], meta: dict) -> str:
    rows: list[tuple[str, object, str]] = []
    first = next((r for r in results.values() if r.timings), None)
    for t in first.timings if first else []:
        label = t.label + (" (not in the issue's list)" if t.extra else "")
        rows.append((label, _timing(t.key), f"p95 < {getattr(t, 'target_ms', TARGET_MS):.0f} ms"))
    rows += [
        ("Lifecycle rate, engine only", _rate("engine_rate"), ""),
        ("Lifecycle rate, HTTP", _rate("http_rate"), ""),
        ("HTTP / engine-only rate", _ratio, f"≥ {RATIO_TARGET}"),
    ]
    for key, label in ACTIONS:
        rows.append((f"{label}: statements / commits", _cost(key), f"< {MAX_STATEMENTS} / 1"))
    rows.append(("Lifecycle (request, approve, cancel): statements / commits", _lifecycle_total, "SpiffArena 227 / 18"))
    for key, label in ACTIONS:
        if key != "second_approval":
            rows.append((f"{label} as an HTTP POST: statements / commits", _cost(key, target=False), "info"))
    lines = _header(results, meta)
    lines.append("| Measure | " + " | ".join(label for _k, label in KINDS) + " | Target |")
    lines.append("|---|" + "---|" * len(KINDS) + "---|")
    for label, fn, target in rows:
        cells = [_cell(results[k], fn) for k, _ in KINDS]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    for key, label in KINDS:
        if results[key].skipped:
            lines += ["", f"{label} skipped: {results[key].skipped}"]
    return "\n".join(lines) + "\n"


def write(text: str) -> Path:
    RESULTS.write_text(text)
    return RESULTS
