"""The lifecycle through HTTP, as people do it: the gunicorn server of `make run`, a cookie session per user
(logged in once through the login form), the forms' CSRF token, and a few users at the same time."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, build_opener

from .lifecycle import APPROVE, CANCEL, REQUEST

ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
REVIEW_RE = re.compile(r'href="(/billing/financial-approval/requests/\d+)"')
STEP_RE = re.compile(r'name="step" value="(\d+)"')
MESSAGE_RE = re.compile(r'class="flash flash-error"[^>]*>([^<]+)<|<p>([^<]{10,})</p>')
PASSWORD = "demo"  # noqa: S105 - the bench users' password (engine.demo.DEMO_PASSWORD)


@dataclass
class Reply:
    status: int
    text: str


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # a 302 after a form is the answer itself: it is returned, not followed


class UrllibTransport:
    def __init__(self, base: str):
        self.base = base
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()), _NoRedirect())

    def send(self, path: str, data: dict | None = None) -> Reply:
        body = urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body, timeout=60) as response:
                return Reply(response.status, response.read().decode())
        except HTTPError as exc:
            return Reply(exc.code, exc.read().decode(errors="replace"))


class FlaskTransport:
    """The same requests through Flask's test client, in this process (to count the SQL a request costs)."""

    def __init__(self, app):
        self.client = app.test_client()

    def send(self, path: str, data: dict | None = None) -> Reply:
        response = self.client.post(path, data=data) if data is not None else self.client.get(path)
        return Reply(response.status_code, response.get_data(as_text=True))


class WebUser:
    def __init__(self, transport, username: str):
        self.transport = transport
        self.username = username
        self.token = ""
        self.posts: dict[str, list[float]] = {}  # kind of form -> each POST's milliseconds, answer included

    def get(self, path: str) -> str:
        reply = self.transport.send(path)
        if reply.status != 200:
            raise RuntimeError(f"{self.username}: GET {path} answered {reply.status}: {_message(reply.text)}")
        return reply.text

    def submit(self, path: str, values: dict, kind: str = "") -> None:
        started = time.perf_counter()
        reply = self.transport.send(path, {**values, "csrf_token": self.token})
        self.posts.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        if reply.status != 302:
            raise RuntimeError(f"{self.username}: POST {path} answered {reply.status}: {_message(reply.text)}")

    def login(self, landing: str) -> WebUser:
        token = _csrf(self.get("/login"))
        reply = self.transport.send("/login", {"username": self.username, "password": PASSWORD, "csrf_token": token})
        if reply.status != 302:
            raise RuntimeError(f"{self.username} could not log in ({reply.status}): {_message(reply.text)}")
        self.token = _csrf(self.get(landing))
        return self


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise RuntimeError("the page has no CSRF token")
    return match.group(1) or match.group(2)


def _message(html: str) -> str:
    match = MESSAGE_RE.search(html)
    return " ".join((match.group(1) or match.group(2)).split()) if match else html[:200]


def billing_user(transport, username: str) -> WebUser:
    return WebUser(transport, username).login("/billing/invoices")


def approver_user(transport, username: str) -> WebUser:
    return WebUser(transport, username).login("/billing/financial-approval/")


def request_step(billing: WebUser, number: str) -> None:
    billing.submit(f"/billing/invoices/{number}/tasks/request_cancellation", REQUEST, "request")


def approve_step(approver: WebUser, number: str) -> None:
    """Financial Approval: filter by the number, open Review, send the form (with the step it shows)."""
    queue = approver.get(f"/billing/financial-approval/?{urlencode({'number': number})}")
    link = REVIEW_RE.search(queue)
    if not link:
        raise RuntimeError(f"{approver.username}: invoice {number} is not in the Financial Approval queue")
    page = approver.get(link.group(1))
    step = STEP_RE.search(page)
    approver.submit(link.group(1), {**APPROVE, **({"step": step.group(1)} if step else {})}, "approve")


def cancel_step(billing: WebUser, number: str) -> None:
    billing.submit(f"/billing/invoices/{number}/tasks/cancel_invoice", CANCEL, "cancel")


def lifecycle(billing: WebUser, approver: WebUser, number: str) -> None:
    request_step(billing, number)
    approve_step(approver, number)
    cancel_step(billing, number)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(database_url: str, workers: int = 2) -> Iterator[str]:
    """The server `make run` starts, on a free port, against the bench database; stopped (by its pid) after."""
    port = free_port()
    folder = tempfile.mkdtemp(prefix="bench_instance_")
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(16), INSTANCE_PATH=folder)
    log = open(Path(folder) / "gunicorn.log", "w")
    command = [str(Path(sys.executable).parent / "gunicorn"), "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", "wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, Path(folder) / "gunicorn.log")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped (exit {server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if UrllibTransport(base).send("/healthz").status == 200:
                return
        except (URLError, ConnectionError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not answer /healthz within 90 s")


def http_rate(
    base: str, lanes: list[tuple[str, str, list[str]]], warmup: int = 2
) -> tuple[float, dict[str, list[float]]]:
    """Lifecycles per second with one thread per lane (a billing user and an approver, each logged in once), and
    the milliseconds of each timed POST by kind (request, approve, cancel).

    Each lane first runs `warmup` lifecycles (both workers load the process and templates), then all lanes
    start together; the rate is the timed lifecycles over the wall time until the last lane is done.
    """
    people = [
        (billing_user(UrllibTransport(base), b), approver_user(UrllibTransport(base), a), numbers)
        for b, a, numbers in lanes
    ]
    for billing, approver, numbers in people:
        for number in numbers[:warmup]:
            lifecycle(billing, approver, number)
        billing.posts.clear()
        approver.posts.clear()
    errors: list[BaseException] = []
    start_line = threading.Barrier(len(people) + 1)

    def run(billing: WebUser, approver: WebUser, numbers: list[str]) -> None:
        start_line.wait()
        try:
            for number in numbers[warmup:]:
                lifecycle(billing, approver, number)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    threads = [threading.Thread(target=run, args=lane) for lane in people]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"HTTP lifecycles failed: {errors[0]}")
    posts: dict[str, list[float]] = {}
    for user in [u for billing, approver, _n in people for u in (billing, approver)]:
        for kind, times in user.posts.items():
            posts.setdefault(kind, []).extend(times)
    return sum(len(numbers) - warmup for _b, _a, numbers in lanes) / elapsed, posts
