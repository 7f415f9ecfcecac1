"""Plain helpers shared by test modules: `from helpers import task_url` (fixtures live in conftest.py).

Not in conftest.py because tests/ and tests/browser/ each have a conftest.py, both imported as the module
`conftest`: `from conftest import ...` would find whichever pytest loaded last.
"""

from __future__ import annotations

import io
import re
import threading

from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import CancellationRequest, Invoice
from engine.workflow.parsing import PROCESSES_DIR

REQUEST = "invoice_cancellation_request.bpmn"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def task_url(number: str, element_id: str) -> str:
    """The page of a task (`request_cancellation`, `cancel_invoice`, ...) on the invoice."""
    return f"/billing/invoices/{number}/tasks/{element_id}"


def latest_request_id(factory, number: str) -> int:
    """The id of the invoice's latest cancellation request."""
    with unit_of_work(factory) as s:
        return s.scalars(
            select(CancellationRequest.id)
            .join(Invoice)
            .where(Invoice.number == number)
            .order_by(CancellationRequest.id)
        ).all()[-1]


def review_url(factory, number: str) -> str:
    """Financial Approval's review page of the invoice's latest cancellation request."""
    return f"/billing/financial-approval/requests/{latest_request_id(factory, number)}"


def row_of(html: str, number: str) -> str:
    """The invoice's table row in a page's HTML."""
    match = re.search(rf'<tr[^>]*data-number="{re.escape(number)}".*?</tr>', html, re.S)
    assert match, f"no row for {number}"
    return match.group(0)


def copy_with(name: str, *replacements: tuple[str, str]) -> bytes:
    """A shipped diagram file with each (old, new) replaced once; each `old` must be there."""
    text = (PROCESSES_DIR / name).read_text()
    for old, new in replacements:
        assert old in text, f"{old!r} not in {name}"
        text = text.replace(old, new, 1)
    return text.encode()


def upload(client, name: str, data: bytes):
    """Deploy a file through the Processes page's form, as an analyst does."""
    return client.post(
        "/admin/processes/deploy", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def run_together(*actions):
    """Run the callables in threads released at the same moment; return each one's result or exception."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def worker(index, action):
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results


class Api:
    """Flask's test client as another system uses the JSON API: a bearer token on every call."""

    def __init__(self, client, token=None):
        self.client, self.token = client, token

    def headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return headers | (extra or {})

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers(), **kwargs)

    def post(self, url, payload=None, headers=None, **kwargs):
        return self.client.post(url, json=payload, headers=self.headers(headers), **kwargs)

    def delete(self, url):
        return self.client.delete(url, headers=self.headers())

    def put(self, url, payload=None, headers=None):
        return self.client.put(url, json=payload, headers=self.headers(headers))

    def patch(self, url, payload=None, headers=None):
        return self.client.patch(url, json=payload, headers=self.headers(headers))


def assert_error(response, status: int, code: str, words: str = ""):
    assert response.status_code == status, response.json
    assert response.is_json and response.json["error"]["code"] == code
    assert words in response.json["error"]["message"]


# The shipped Record request script (tests replace it with their own).
RECORD = (
    "<bpmn:script>refuse_if_blocked(blocked, blocked_message)\n"
    "submit_request(reason=reason, remarks=remarks)</bpmn:script>"
)
