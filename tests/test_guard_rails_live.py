"""Issue 9 guard rails against the real server `make run` starts: gunicorn with 2 workers and gunicorn.conf.py."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

from helpers import RECORD, REQUEST, copy_with

from engine.db import unit_of_work
from engine.usecases import deployments


def _get(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _token(base: str, username: str) -> str:
    body = json.dumps({"username": username, "password": "demo"}).encode()
    request = urllib.request.Request(base + "/api/tokens", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.load(answer)["token"]


def test_the_access_log_keeps_search_words_out(gunicorn_server):
    base, log = gunicorn_server
    token = _token(base, "billing")
    assert _get(base + "/api/invoices?q=Maria%20Tanaka", token) == 200
    assert _get(base + "/billing/invoices?q=Aisha+Khan") in (200, 302)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "/billing/invoices" not in log.read_text():
        time.sleep(0.1)
    written = log.read_text()
    assert '"GET /api/invoices HTTP/1.1" 200' in written and "/billing/invoices" in written
    assert "Maria" not in written and "Tanaka" not in written and "Aisha" not in written and "q=" not in written


def _post(base: str, path: str, token: str, body: dict) -> tuple[int, dict, float]:
    started = time.monotonic()
    request = urllib.request.Request(
        base + path, json.dumps(body).encode(), {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - our own server
            return answer.status, json.load(answer), time.monotonic() - started
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), time.monotonic() - started


def test_a_runaway_script_is_stopped_and_holds_up_no_one_else(gunicorn_server, demo, session_factory):
    with unit_of_work(session_factory) as s:
        runaway = copy_with(REQUEST, (RECORD, "<bpmn:script>while True: pass</bpmn:script>"))
        deployments.deploy(s, demo.actor("analyst"), REQUEST, runaway)
    base, _log = gunicorn_server
    billing, lakeside = _token(base, "billing"), _token(base, "lakeside")
    northside, other_clinic = demo.invoice_numbers("NS")[0], demo.invoice_numbers("LS")[0]
    results: dict = {}

    def runaway_request():
        body = {"reason": "duplicate", "remarks": "Billed twice"}
        results["runaway"] = _post(base, f"/api/invoices/{northside}/cancellation-requests", billing, body)

    thread = threading.Thread(target=runaway_request)
    thread.start()
    time.sleep(0.3)  # the script is running now
    results["other"] = _post(base, f"/api/invoices/{other_clinic}/cancel", lakeside, {"remarks": "Voided"})
    started = time.monotonic()
    assert _get(base + "/healthz") == 200
    health = time.monotonic() - started
    thread.join(timeout=30)

    status, body, took = results["runaway"]
    assert status == 202 and took < 3, (status, took)
    assert body["incident"]["element"] == "record_request" and "ScriptLimitExceeded" in body["incident"]["message"]
    status, body, took = results["other"]
    assert status == 200 and body["status"] == "cancelled" and took < 3, (status, took)
    assert health < 3
