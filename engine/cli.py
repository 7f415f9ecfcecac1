"""Command line: `python -m engine.cli migrate | seed-demo | validate` (used by the Makefile)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .db import default_url, make_engine, make_session_factory, unit_of_work
from .demo import is_empty, seed_demo
from .errors import ProcessesInvalid
from .instances.operations import build_runtime
from .schema import upgrade
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
    args = parser.parse_args(argv)
    runtime = build_runtime()
    if args.command == "validate":
        return _validate(Path(args.directory), runtime.operation_names)
    url = default_url(INSTANCE)
    factory = make_session_factory(make_engine(url), runtime)
    if args.command == "migrate":
        upgrade(url)
        with unit_of_work(factory) as session:
            deploy_processes(session)
        print(f"Database is at the latest schema: {_redact(url)}")
        return 0
    with unit_of_work(factory) as session:
        if not is_empty(session):
            print("The database already has data: demo data not added.")
            return 0
        seed_demo(session)
    print("Demo data added: users billing, approver, supervisor, admin, lakeside, analyst (password: demo).")
    return 0


def _validate(directory: Path, operations: frozenset[str]) -> int:
    try:
        loaded = load_directory(directory, operations)
    except ProcessesInvalid as exc:
        for problem in exc.problems:
            print(problem.message, file=sys.stderr)
        return 1
    print(f"{len(loaded)} processes valid in {directory}")
    return 0


def _redact(url: str) -> str:
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    sys.exit(main())
