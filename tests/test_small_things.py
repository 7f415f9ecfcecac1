"""Issue "Polish", 8 (keyboard and small things), without a browser: breadcrumbs link to their pages, and the
invoice list shows Approval Status (column and filter) only once an invoice of the clinic has one."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from helpers import review_url
from sqlalchemy import update

from engine.db import unit_of_work
from engine.models import Clinic

REQUEST_PROCESS = "invoice_cancellation_request"


class _Crumbs(HTMLParser):
    """The Breadcrumb navigation's items as (label, href or None, aria-current or None)."""

    def __init__(self):
        super().__init__()
        self.crumbs: list[tuple[str, str | None, str | None]] = []
        self._in_nav = self._in_item = False
        self._href = self._current = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "nav" and attrs.get("aria-label") == "Breadcrumb":
            self._in_nav = True
        elif self._in_nav and tag == "li":
            self._in_item, self._href, self._current, self._text = True, None, attrs.get("aria-current"), ""
        elif self._in_item and tag == "a":
            self._href = attrs.get("href")

    def handle_endtag(self, tag):
        if tag == "li" and self._in_item:
            self.crumbs.append((self._text.strip(), self._href, self._current))
            self._in_item = False
        elif tag == "nav":
            self._in_nav = False

    def handle_data(self, data):
        if self._in_item:
            self._text += data


def crumbs(html: str) -> list[tuple[str, str | None, str | None]]:
    parser = _Crumbs()
    parser.feed(html)
    return parser.crumbs


def _ok(response) -> str:
    assert response.status_code == 200, response.text[:500]
    return response.text


# ---------------------------------------------------------------- breadcrumbs


def test_each_crumb_but_the_last_links_to_its_page_and_the_last_is_the_current_page(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    billing = web("billing")

    assert crumbs(_ok(billing.get(f"/billing/invoices/{number}"))) == [
        ("Home", "/", None),
        ("Billing", "/billing/invoices", None),
        ("Invoice", "/billing/invoices", None),
        (number, None, "page"),
    ]
    assert crumbs(_ok(billing.get("/billing/invoices"))) == [
        ("Home", "/", None),
        ("Billing", "/billing/invoices", None),
        ("Invoice", None, "page"),
    ]

    review = crumbs(_ok(web("approver").get(review_url(session_factory, number))))
    assert review == [
        ("Home", "/", None),
        ("Billing", "/billing/invoices", None),
        ("Financial Approval", "/billing/financial-approval/", None),
        (number, None, "page"),
    ]


def test_administration_crumbs_link_to_their_lists_and_administration_stays_text(web, demo):
    demo.request("billing", demo.invoice_numbers("NS")[0])
    admin = web("admin")

    instance = re.search(r'href="(/admin/instances/\d+)"', _ok(admin.get("/admin/instances"))).group(1)
    assert crumbs(_ok(admin.get(instance)))[:3] == [
        ("Home", "/", None),
        ("Administration", None, None),  # no page of its own
        ("Process Instances", "/admin/instances", None),
    ]

    version = re.search(r'href="(/admin/processes/versions/\d+)"', _ok(admin.get("/admin/processes/"))).group(1)
    assert crumbs(_ok(admin.get(version)))[:3] == [
        ("Home", "/", None),
        ("Administration", None, None),
        ("Processes", "/admin/processes/", None),
    ]


def test_the_home_crumb_opens_each_persons_start_page(web, demo):
    """Home is "/": clinic staff land on Home, an analyst (who has no Home) on the processes."""
    assert web("billing").get("/").headers["Location"].endswith("/home")
    analyst = web("analyst")
    assert crumbs(_ok(analyst.get("/admin/processes/")))[0] == ("Home", "/", None)
    assert analyst.get("/").headers["Location"].endswith("/admin/processes/")


# ---------------------------------------------------------------- Approval Status on the invoice list


def _has_approval_status(html: str) -> dict[str, bool]:
    return {
        "column": '<th scope="col">Approval Status</th>' in html,
        "filter": '<label for="approval">Approval Status</label>' in html and 'id="approval"' in html,
    }


def test_approval_status_is_hidden_until_an_invoice_of_the_clinic_has_one(web, demo, session_factory):
    billing = web("billing")
    listed = _ok(billing.get("/billing/invoices"))
    assert demo.invoice_numbers("NS")[0] in listed
    assert _has_approval_status(listed) == {"column": False, "filter": False}

    with unit_of_work(session_factory) as session:  # Lakeside cancels directly: here it asks for approval too
        session.execute(update(Clinic).where(Clinic.name == "Lakeside Clinic").values(process_id=REQUEST_PROCESS))
    demo.request("lakeside", demo.invoice_numbers("LS")[0])  # another clinic's request changes nothing here
    assert _has_approval_status(_ok(web("lakeside").get("/billing/invoices")))["column"]
    assert _has_approval_status(_ok(billing.get("/billing/invoices"))) == {"column": False, "filter": False}

    requested, other = demo.invoice_numbers("NS")[5], demo.invoice_numbers("NS")[0]
    demo.request("billing", requested)
    assert _has_approval_status(_ok(billing.get("/billing/invoices"))) == {"column": True, "filter": True}
    # From then on also where no invoice listed has one.
    listed = _ok(billing.get("/billing/invoices", query_string={"q": other}))
    assert other in listed and requested not in listed
    assert _has_approval_status(listed) == {"column": True, "filter": True}


def test_a_link_that_filters_by_approval_status_keeps_the_filter_to_change_it(web, demo):
    billing = web("billing")
    filtered = billing.get("/billing/invoices", query_string={"approval": "approved"})
    assert _has_approval_status(_ok(filtered))["filter"]
    assert 'value="approved" selected' in filtered.text

    refused = billing.get("/billing/invoices", query_string={"approval": "maybe"})
    assert refused.status_code == 422 and "Approval Status must be one of" in refused.text
    assert _has_approval_status(refused.text)["filter"]  # the field the message names is there
