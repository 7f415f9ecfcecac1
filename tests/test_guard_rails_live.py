"""Issue 9 guard rails against the real server `make run` starts: gunicorn with 2 workers and gunicorn.conf.py."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request


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
