"""Command line: `python -m engine.cli init --admin NAME | migrate | seed-demo | validate | worker |
grant-installation-admin NAME | import-invoices FILE --clinic NAME` (migrate, seed-demo and validate are used by
the Makefile; the Procfile runs worker beside gunicorn)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from .db import default_url, make_engine, make_session_factory, unit_of_work
from .demo import add_demo_api_key, is_empty, seed_demo
from .errors import DomainError, Invalid, ProcessesInvalid
from .instances.operations import build_runtime
from .schema import upgrade
from .usecases import account
from .usecases.deployments import deploy_processes
from .workflow.parsing import PROCESSES_DIR, load_directory

INSTANCE = os.environ.get("INSTANCE_PATH") or str(Path(__file__).resolve().parent.parent / "instance")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="bring the database to the latest schema and deploy processes/")
    sub.add_parser("seed-demo", help="fill an EMPTY database with the demo clinics, users and invoices")
    check = sub.add_parser("validate", help="check every file of processes/ and print path:line: element: message")
    check.add_argument("directory", nargs="?", default=str(PROCESSES_DIR))
    init = sub.add_parser("init", help="a real installation: schema, processes/ and the first installation admin")
    init.add_argument("--admin", required=True, metavar="USERNAME", help="the installation administrator's username")
    init.add_argument("--full-name", default="", help="their full name")
    grant = sub.add_parser("grant-installation-admin", help="make an existing user an installation administrator")
    grant.add_argument("username")
    imports = sub.add_parser("import-invoices", help="import a clinic's invoices from a CSV file")
    imports.add_argument("file", type=Path)
    imports.add_argument("--clinic", required=True, help="the clinic's name")
    imports.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    work = sub.add_parser("worker", help="run background jobs (timers, mail, webhook deliveries) until stopped")
    work.add_argument("--poll", type=float, default=float(os.environ.get("WORKER_POLL_SECONDS") or 1.0))
    args = parser.parse_args(argv)
    runtime = build_runtime()
    if args.command == "validate":
        return _validate(Path(args.directory), runtime.operation_names)
    url = default_url(INSTANCE)
    factory = make_session_factory(make_engine(url), runtime)
    if args.command in ("migrate", "init"):
        upgrade(url)
        with unit_of_work(factory) as session:
            deploy_processes(session)
        print(f"Database is at the latest schema: {_redact(url)}")
        return _init(factory, args.admin, args.full_name) if args.command == "init" else 0
    if args.command == "worker":
        return _worker(factory, args.poll)
    if args.command == "import-invoices":
        return _import(factory, args.file, args.clinic, args.dry_run)
    if args.command == "grant-installation-admin":
        try:
            with unit_of_work(factory) as session:
                print(account.grant_installation_admin(session, args.username))
        except DomainError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        return 0
    with unit_of_work(factory) as session:
        if not is_empty(session):
            print("The database already has data: demo data not added.")
            key_file = Path(INSTANCE) / "demo-api-key.txt"
            if key_file.exists():
                print(f"Demo API key of Northside Clinic's billing system: {key_file.read_text().strip()}")
            return 0
        seed_demo(session)
        key = add_demo_api_key(session)
    key_file = Path(INSTANCE) / "demo-api-key.txt"
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    print("Demo data added: users billing, approver, supervisor, admin, lakeside, analyst, root (password: demo).")
    print(f"Demo API key of Northside Clinic's billing system (also in {key_file}): {key}")
    return 0


def _worker(factory, poll: float) -> int:
    import logging  # noqa: PLC0415 - the worker only
    import signal  # noqa: PLC0415
    import threading  # noqa: PLC0415
    from functools import partial  # noqa: PLC0415

    from .db import keep_statistics  # noqa: PLC0415
    from .events.mail import send_digests, send_mail  # noqa: PLC0415
    from .events.worker import deliver_due, run  # noqa: PLC0415
    from .usecases.timers import fire_due  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)  # not every task's state change: what the worker did
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    mail = partial(send_mail, smtp_url=os.environ.get("SMTP_URL"), folder=Path(INSTANCE) / "mail")
    # Timers first: what they cause goes out in the same round.
    run(factory, INSTANCE, stop, poll, jobs=(fire_due, send_digests, mail, deliver_due, keep_statistics))
    return 0


def _import(factory, path: Path, clinic: str, dry_run: bool) -> int:
    """import-invoices: a progress bar (rich) on the terminal, then the summary and each refused line."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn  # noqa: PLC0415

    from .usecases.invoice_import import command_line_actor, import_invoices  # noqa: PLC0415

    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"Cannot read {path}: {exc.strerror}.", file=sys.stderr)
        return 1
    total = max(data.count(b"\n") - 1, 1)
    columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn())
    session = factory()
    try:
        with Progress(*columns, transient=True) as bar:
            task = bar.add_task("import", total=total)
            actor = command_line_actor(session, clinic)
            source = "CSV import (command line)"
            report = import_invoices(session, actor, data, source, lambda n: bar.update(task, completed=n))
        session.rollback() if dry_run else session.commit()
    except DomainError as exc:
        session.rollback()
        print(f"Nothing was imported: {exc.message}", file=sys.stderr)
        return 1
    finally:
        session.close()
    print(("Dry run, nothing written: " if dry_run else "") + report.summary)
    for problem in report.problems:
        print(problem)
    return 0


def _init(factory, username: str, full_name: str) -> int:
    with unit_of_work(factory, read_only=True) as session:
        if account.is_initialised(session):
            print("This installation is already initialised (it has users): nothing was changed.")
            return 0
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {username} (12 characters or more): ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ: nothing was changed.", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        with unit_of_work(factory) as session:
            message = account.initialise(session, username, password, full_name)
    except Invalid as exc:
        print(f"Nothing was changed: {exc.message}", file=sys.stderr)
        return 1
    print(message or "This installation is already initialised (it has users): nothing was changed.")
    return 0


def _validate(directory: Path, operations: frozenset[str]) -> int:
    try:
        loaded = load_directory(directory, operations)
    except ProcessesInvalid as exc:
        for problem in exc.problems:
            print(problem.message, file=sys.stderr)
        return 1
    print(f"{len(loaded)} process{'es' if len(loaded) != 1 else ''} valid in {directory}")
    return 0


def _redact(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    sys.exit(main())
