"""Fixtures: a real database per test (a SQLite file or PostgreSQL), the real app, engine and BPMN files.

TEST_DB=sqlite (default) or TEST_DB=postgres (reads TEST_POSTGRES_URL): `make test` runs the suite once each.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import Api, csrf_from, latest_request_id
from sqlalchemy import create_engine, select, text, update
from werkzeug.serving import make_server

from engine.accounts.users import actor_for
from engine.db import unit_of_work
from engine.demo import seed_demo
from engine.instances.operations import build_runtime
from engine.models import Base, Clinic, Invoice, User
from engine.schema import scratch_postgres_database, upgrade
from engine.usecases import approval, steps
from engine.usecases.deployments import deploy_processes
from webapp import create_app

TEST_DB = os.environ.get("TEST_DB", "sqlite")
ROOT = Path(__file__).resolve().parent.parent
TEST_PROCESSES = Path(__file__).parent / "processes"


@pytest.fixture(scope="session")
def db_template(tmp_path_factory):
    """A migrated, empty database for the run (PostgreSQL: a database of its own, dropped at the end)."""
    if TEST_DB == "postgres":
        base = os.environ.get("TEST_POSTGRES_URL")
        if not base:
            pytest.fail(
                "TEST_DB=postgres needs TEST_POSTGRES_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
            )
        with scratch_postgres_database(base, f"clinic_test_{os.getpid()}") as url:
            yield url
    else:
        path = tmp_path_factory.mktemp("db") / "template.db"
        upgrade(f"sqlite:///{path}")
        yield str(path)


@pytest.fixture
def database_url(db_template, tmp_path):
    """An empty, migrated database for one test."""
    if TEST_DB == "postgres":
        engine = create_engine(db_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # test reset only: skips audit triggers
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return db_template
    path = tmp_path / "test.db"
    shutil.copy(db_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def extra_operations(request):
    """Operations a test adds to the product's: a test that uses `ledger` gets `ledger_post` (a module may
    override this fixture for others). Each app builds its own runtime from them: nothing global changes."""
    if "ledger" in request.fixturenames:
        return {"ledger_post": request.getfixturevalue("ledger").post}
    return {}


@pytest.fixture
def app(database_url, tmp_path, extra_operations):
    """The real app on the test's database, with a runtime of its own (the product's operations + extras)."""
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-only-key", "SERVER_NAME": None},
        runtime=build_runtime(extra_operations),
    )
    app.instance_path = str(tmp_path / "instance")
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def session_factory(app):
    return app.extensions["session_factory"]


@pytest.fixture
def uow(session_factory):
    """uow() is a unit of work on the test's database: `with uow() as s: ...`."""
    return lambda: unit_of_work(session_factory)


@pytest.fixture
def demo(session_factory):
    """The README's demo clinics and users, with 12 invoices per clinic (NS-…-00001.. and LS-…)."""
    with unit_of_work(session_factory) as session:
        seed_demo(session, invoices_per_clinic=12)
        # One approval suffices below 1,000.00 (approval_policy.dmn): tests choose larger amounts themselves.
        # Nothing blocks their cancellation (cancellation_blockers.dmn): tests that need a paid or claimed
        # invoice say so themselves.
        for n, invoice in enumerate(session.scalars(select(Invoice).order_by(Invoice.id))):
            invoice.amount = Decimal("100.00") + n
            invoice.payment_status, invoice.claim_status = "unpaid", "none"
            invoice.blocked, invoice.blocked_message = False, None
    return Demo(session_factory)


class Demo:
    def __init__(self, factory):
        self.factory = factory

    def set_amount(self, number: str, amount: str) -> None:
        with unit_of_work(self.factory) as session:
            session.scalar(select(Invoice).where(Invoice.number == number)).amount = Decimal(amount)

    def actor(self, username: str):
        with unit_of_work(self.factory, read_only=True) as session:
            user = session.scalar(select(User).where(User.username == username))
            return actor_for(session, user.id)

    def invoice_numbers(self, prefix: str = "NS") -> list[str]:
        with unit_of_work(self.factory, read_only=True) as session:
            return list(
                session.scalars(
                    select(Invoice.number).where(Invoice.number.like(f"{prefix}-%")).order_by(Invoice.number)
                )
            )

    # The steps as the demo users take them through the engine (no web layer), each in a unit of work of its own.

    def request(self, username: str, number: str, reason: str = "duplicate", remarks: str = "Billed twice"):
        """Submit an Invoice Cancellation Request; returns the step's Outcome."""
        actor = self.actor(username)
        with unit_of_work(self.factory) as session:
            return steps.complete_task(
                session, actor, number, "request_cancellation", {"reason": reason, "remarks": remarks}
            )

    def decide(self, username: str, number: str, decision: str = "approve", remarks: str = ""):
        """Decide on the invoice's latest cancellation request; returns the step's Outcome."""
        actor, request_id = self.actor(username), latest_request_id(self.factory, number)
        with unit_of_work(self.factory) as session:
            return approval.decide(session, actor, request_id, {"decision": decision, "decision_remarks": remarks})

    def cancel(self, username: str, number: str, remarks: str = "Cancelled as approved"):
        """Complete Cancel Invoice; returns the step's Outcome."""
        actor = self.actor(username)
        with unit_of_work(self.factory) as session:
            return steps.complete_task(session, actor, number, "cancel_invoice", {"cancel_remarks": remarks})


@pytest.fixture
def incident_probe(demo, session_factory, ledger):
    """Northside runs the test-only incident_probe process, whose step posts to the `ledger` (down until a test
    sets ledger.down = False); returns the path of its file."""
    with unit_of_work(session_factory) as session:
        deploy_processes(session, TEST_PROCESSES)
        session.execute(update(Clinic).where(Clinic.name == "Northside Clinic").values(process_id="incident_probe"))
    return TEST_PROCESSES / "incident_probe.bpmn"


def snapshot(factory) -> dict:
    """Every row of every table: compare before and after a refused action to prove nothing was written.

    Login sessions, the time of each user's last login (and API key's last use) and the audit of logins are left
    out: logging in or calling with a key (to try the refused action) writes them, by design."""
    with unit_of_work(factory) as session:
        rows = {}
        for table in Base.metadata.sorted_tables:
            if table.name == "web_sessions":
                continue
            query = select(*(c for c in table.columns if c.name not in ("last_login_at", "last_used_at")))
            if table.name == "audit_events":
                query = query.where(table.c.action != "logged_in")
            rows[table.name] = [tuple(row) for row in session.execute(query.order_by(*table.primary_key.columns))]
        return rows


@pytest.fixture
def db_snapshot(session_factory):
    return lambda: snapshot(session_factory)


class WebClient:
    """Flask's test client as a person uses it: logs in through the form, sends the page's CSRF token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username: str, password: str = "demo"):
        page = self.client.get("/login")
        response = self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": csrf_from(page.text)}
        )
        self.token = csrf_from(self.client.get("/account").text) if response.status_code == 302 else None
        return response

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, csrf=True, **kwargs):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def web(app):
    """web("billing") is a client logged in as billing; web(app=other) uses another app."""

    def make(username: str | None = None, app=app) -> WebClient:
        client = WebClient(app.test_client())
        if username:
            assert client.login(username).status_code == 302
        return client

    return make


class Ledger:
    """A stand-in for an outside ledger system the test diagrams post to (operation `ledger_post`); it can be
    down."""

    def __init__(self):
        self.down = True
        self.posted: list[str] = []

    def post(self, ctx, invoice_number: str) -> None:
        if self.down:
            raise ConnectionError("ledger unreachable (connection refused)")
        self.posted.append(invoice_number)


@pytest.fixture
def ledger():
    return Ledger()


@pytest.fixture
def live_server(app, demo):
    """The app (demo data seeded) served by werkzeug in a daemon thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def api(app, demo):
    """api("billing") is an API client with billing's token; api() has none."""

    def login(username: str | None = None) -> Api:
        client = app.test_client()
        if username is None:
            return Api(client)
        response = client.post("/api/tokens", json={"username": username, "password": "demo"})
        assert response.status_code == 201, response.json
        return Api(client, response.json["token"])

    return login


@pytest.fixture
def gunicorn_server(database_url, demo, tmp_path):
    """The server `make run` starts (gunicorn, 2 workers, gunicorn.conf.py), on the test's database with the demo
    data; yields (base URL, access log path)."""
    port = _free_port()
    log = tmp_path / "access.log"
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY="test-only-key", INSTANCE_PATH=str(tmp_path))
    command = [str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    command += ["--access-logfile", str(log), "wsgi:app"]
    with open(tmp_path / "gunicorn.err", "w") as errors:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=errors, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for(base, server, tmp_path / "gunicorn.err")
            yield base, log
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(base: str, server: subprocess.Popen, errors: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn stopped (exit {server.returncode}):\n{errors.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail("gunicorn did not answer /healthz within 60 s")


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd): `.url` for SMTP_URL, `.messages` as received."""
    from mailbox_server import SmtpServer  # noqa: PLC0415 - only the mail tests start one

    server = SmtpServer()
    server.controller.start()
    try:
        yield server
    finally:
        server.controller.stop()
