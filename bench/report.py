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
MAX_STATEMENTS = 12  # per HTTP POST, what every action needs (issue 16): at most this
ENGINE_SHARE, HTTP_SHARE, SCALE = 0.5, 0.25, 1.7  # of the floor; of the floor; two processes over one
POST_P95_MS = 20
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
    engine_rates: dict[int, float] = field(default_factory=dict)  # processes -> lifecycles/s (median)
    http_rates: dict[int, float] = field(default_factory=dict)  # gunicorn workers -> lifecycles/s (median)
    post_ms: dict[str, list[float]] = field(default_factory=dict)  # kind of POST -> ms, one-worker runs
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


def _cost(key: str, http: bool = False):
    def cell(r: Result) -> str:
        c = (r.http_costs if http else r.costs)[key]
        if not http:
            return f"{c.split()} / {c.commits}"
        return f"{c.split()} / {c.commits} {_verdict(c.core <= MAX_STATEMENTS and c.commits == 1)}"

    return cell


def _lifecycle_total(r: Result) -> str:
    costs = [r.costs[k] for k in ("request", "approve", "cancel")]
    return f"{sum(c.statements for c in costs)} / {sum(c.commits for c in costs)}"


def _of_floor(attr: str, n: int, floor: float | None, share: float):
    def cell(r: Result) -> str:
        rate = getattr(r, attr)[n]
        if not floor:
            return f"{rate:.1f} /s"
        return f"{rate:.1f} /s = {rate / floor:.0%} of the floor {_verdict(rate / floor >= share)}"

    return cell


def _scaling(attr: str, judged: bool = True):
    def cell(r: Result) -> str:
        rates = getattr(r, attr)
        ratio = rates[2] / rates[1]
        return f"{rates[2]:.1f} /s = {ratio:.2f}× one" + (f" {_verdict(ratio >= SCALE)}" if judged else "")

    return cell


def _post_p95(r: Result) -> str:
    cells = []
    for kind in ("request", "approve", "cancel"):
        times = sorted(r.post_ms[kind])
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        cells.append(f"{p95:.1f}")
    worst = max(float(c) for c in cells)
    return " / ".join(cells) + f" ms {_verdict(worst < POST_P95_MS)}"


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
        f"cancel on invoices below 1,000.00, {meta['lifecycles']} per run, each rate the median of "
        f"{meta['runs_per_rate']} runs; one process or gunicorn worker serves {meta['pairs'][1]} billing + approver "
        f"pairs at once, two serve {meta['pairs'][2]}. Engine functions: the engine's use cases called in each "
        "process; HTTP: gunicorn, each user logged in once, the approver filtering Financial Approval by the number "
        "and opening Review. The floor: the same lifecycle with SpiffWorkflow 3.2.0 and SQLite alone "
        "(bench/floor.py). Statements and commits per action (BEGIN not counted) as core + side rows: what every "
        "action needs, then the statements of the events, timers and notifications it adds (their rows, and the "
        "reads of who is told); an HTTP POST also reads the logged-in person (session, roles and clinics in one "
        "statement), in the same transaction.",
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
    floor = meta["floor"][0] if meta.get("floor") else None
    pairs = meta["pairs"]
    rows += [
        (f"Lifecycle rate, engine functions, 1 process ({pairs[1]} pairs)",
         _of_floor("engine_rates", 1, floor, ENGINE_SHARE), f"≥ {ENGINE_SHARE:.0%} of the floor"),
        (f"Lifecycle rate, engine functions, 2 processes ({pairs[2]} pairs)", _scaling("engine_rates"),
         f"≥ {SCALE}× one (PostgreSQL)"),
        (f"Lifecycle rate, HTTP, 1 gunicorn worker ({pairs[1]} pairs)", _of_floor("http_rates", 1, floor, HTTP_SHARE),
         f"≥ {HTTP_SHARE:.0%} of the floor"),
        (f"Lifecycle rate, HTTP, 2 gunicorn workers ({pairs[2]} pairs)", _scaling("http_rates"), f"≥ {SCALE}× one"),
        ("POST p95, 1 worker: request / approve / cancel", _post_p95, f"< {POST_P95_MS} ms"),
    ]  # fmt: skip
    for key, label in ACTIONS:
        rows.append((f"{label}, engine: statements / commits", _cost(key), "info"))
    rows.append(("Lifecycle (request, approve, cancel), engine: statements / commits", _lifecycle_total,
                 "SpiffArena 227 / 18"))  # fmt: skip
    for key, label in ACTIONS:
        if key != "second_approval":
            rows.append((f"{label} as an HTTP POST: statements / commits", _cost(key, http=True),
                         f"≤ {MAX_STATEMENTS} core / 1"))  # fmt: skip
    lines = _header(results, meta)
    lines.append("| Measure | " + " | ".join(label for _k, label in KINDS) + " | Target |")
    lines.append("|---|" + "---|" * len(KINDS) + "---|")
    for label, fn, target in rows:
        cells = [_cell(results[k], fn) for k, _ in KINDS]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    if meta.get("floor"):
        rate, state = meta["floor"]
        lines += ["", f"The floor, SpiffWorkflow 3.2.0 and SQLite alone in 1 process: {rate:.1f} lifecycles/s "
                  f"(whole state per instance {state / 1024:.1f} KB)."]  # fmt: skip
    for key, label in KINDS:
        if results[key].skipped:
            lines += ["", f"{label} skipped: {results[key].skipped}"]
    return "\n".join(lines) + "\n"


PROFILE_HEADING = "## Where the time goes"  # written by hand below the table; a new run keeps it


def write(text: str) -> Path:
    kept = ""
    if RESULTS.exists():
        old = RESULTS.read_text()
        if PROFILE_HEADING in old:
            kept = "\n" + old[old.index(PROFILE_HEADING) :]
    RESULTS.write_text(text + kept)
    return RESULTS
