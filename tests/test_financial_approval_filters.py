"""Issue 15 (5. Financial Approval): one's own request found by number says why it is not listed; the status
filter has All, Withdrawn and Terminated; decided lists show who decided and when; a From after To keeps the
table and names the field to fix."""

from __future__ import annotations

import html
import re
from datetime import date

from helpers import latest_request_id, task_url
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import CancellationRequest, Invoice
from engine.reads.queries import approval_queue
from engine.usecases import instance_admin

QUEUE = "/billing/financial-approval/"


def _rows(page_html: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", page_html, re.S)
    return re.findall(r'class="invoice-number"[^>]*>([^<]+)<', body.group(1)) if body else []


def test_ones_own_request_searched_by_number_says_another_approver_decides_it(web, demo):
    mine, other = demo.invoice_numbers("NS")[:2]
    demo.request("supervisor", mine)  # Sam Supervisor is billing staff and approver
    demo.request("billing", other)
    supervisor = web("supervisor")
    page = supervisor.get(f"{QUEUE}?number={mine.lower()}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"{mine} is your own request: another approver decides it." in text
    assert "No requested request matches" not in text
    assert _rows(supervisor.get(f"{QUEUE}?number={other}").text) == [other]  # someone else's is listed
    demo.decide("approver", other, "approve")  # one approval below 1,000.00: it is decided
    gone = html.unescape(web("approver").get(f"{QUEUE}?number={other}").text)
    assert "No requested request matches these filters." in gone


def test_the_number_filter_finds_a_part_of_the_number_in_any_case_and_takes_any_characters(web, demo):
    """The Invoice No. filter reads the search index (issue 16): a part of the number from its middle, in lower
    case, a one- or two-character part, and characters that mean something to LIKE or FTS5 are taken as text."""
    first, second = demo.invoice_numbers("NS")[:2]
    demo.request("billing", first)
    demo.request("billing", second)
    approver = web("approver")
    assert _rows(approver.get(f"{QUEUE}?number={first[3:].lower()}").text) == [first]
    assert sorted(_rows(approver.get(f"{QUEUE}?number=ns-").text)) == sorted([first, second])
    assert set(_rows(approver.get(f"{QUEUE}?number={first[-1]}").text)) >= {first}  # one character: anywhere
    for odd in ('"', "%", "_", 'NS" OR "x', "number:"):
        page = approver.get(QUEUE, query_string={"number": odd})
        assert page.status_code == 200, odd
        assert _rows(page.text) == [], odd


def test_the_number_filter_finds_the_same_on_the_waiting_list_and_on_all_also_beyond_ascii(web, demo, session_factory):
    """The Invoice No. filter on Requested and on All finds a part of the number in any case, letters beyond
    ASCII included (issue 16: both read the search index)."""
    accented = "NS-ÉTÉ-0042"
    with unit_of_work(session_factory) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == demo.invoice_numbers("NS")[0]))
        invoice.number = accented
    demo.request("billing", accented)
    approver = web("approver")
    for status in ("requested", "all"):
        for term in ("été-00", "ÉTÉ", "ns-été-0042", "s-é", "ns-", "-0042"):
            page = approver.get(QUEUE, query_string={"status": status, "number": term})
            assert _rows(html.unescape(page.text)) == [accented], (status, term)
        assert _rows(approver.get(QUEUE, query_string={"status": status, "number": "ete-00"}).text) == []


def test_pages_of_the_list_count_every_request_with_each_filter(demo, session_factory):
    """The list's statements are built once per shape of filters, their values bound (issue 16): each way a page
    is counted (the clinic's ready steps; the filtered waiting requests; a decided list) counts the same."""
    numbers = demo.invoice_numbers("NS")[:3]
    for number in numbers:
        demo.request("billing", number)
    demo.decide("approver", numbers[2])
    approver = demo.actor("approver")
    today = date.today()
    with unit_of_work(session_factory, read_only=True) as s:
        for filters, expected in (
            ({}, numbers[:2]),  # waiting for a decision: counted from the ready steps
            ({"number": "ns-"}, numbers[:2]),  # waiting, filtered: counted from the filtered requests
            ({"date_from": today, "date_to": today}, numbers[:2]),
            ({"status": "all", "number": "NS-"}, numbers),  # every request
            ({"status": "approved"}, numbers[2:]),
        ):
            pages = [approval_queue(s, approver, per_page=1, page=p, **filters) for p in (1, 2, 3)]
            assert pages[0].total == len(expected), filters
            assert [p.items[0].request.invoice.number for p in pages[: len(expected)]] == expected, filters
    own = demo.invoice_numbers("NS")[3]
    demo.request("supervisor", own)
    with unit_of_work(session_factory, read_only=True) as s:
        assert approval_queue(s, approver, number="ns-").total == 3
        assert approval_queue(s, demo.actor("supervisor"), number="ns-").total == 2  # never one's own request
        assert approval_queue(s, approver, number="ns-").total == 3  # the shape kept no one's values


def test_status_filter_has_all_withdrawn_and_terminated_and_decided_lists_say_who(web, demo, session_factory):
    approved, rejected, withdrawn, terminated, waiting = demo.invoice_numbers("NS")[:5]
    for number in (approved, rejected, withdrawn, terminated, waiting):
        demo.request("billing", number)
    demo.decide("approver", approved)
    demo.decide("approver", rejected, "reject", "Two visits")
    web("billing").post(task_url(withdrawn, "withdraw_review"), {"withdraw_remarks": "Paid after all"})
    with unit_of_work(session_factory) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, terminated)).instance_id
        instance_admin.terminate(s, demo.actor("admin"), instance_id, "Wrong clinic")

    admin = web("admin")
    listed = {s: _rows(admin.get(f"{QUEUE}?status={s}").text) for s in ("withdrawn", "terminated", "all")}
    assert listed["withdrawn"] == [withdrawn] and listed["terminated"] == [terminated]
    assert sorted(listed["all"]) == sorted([approved, rejected, withdrawn, terminated, waiting])
    page = admin.get(f"{QUEUE}?status=approved").text
    assert re.search(r'<option value="all"[^>]*>All</option>', page)
    decided = html.unescape(re.search(r'<td class="decided">(.*?)</td>', page, re.S).group(1))
    assert "Review request: Approve by Arjun Approver, " in decided
    rejected_page = html.unescape(admin.get(f"{QUEUE}?status=rejected").text)
    assert "Review request: Reject by Arjun Approver, " in rejected_page
    withdrawn_page = html.unescape(admin.get(f"{QUEUE}?status=withdrawn").text)
    assert "Withdrawn by Bella Billing, " in withdrawn_page
    assert "Terminated by Ada Admin, " in html.unescape(admin.get(f"{QUEUE}?status=terminated").text)


def test_from_after_to_keeps_the_table_and_names_the_field(web, demo):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    approver = web("approver")
    page = approver.get(f"{QUEUE}?from=2026-12-31&to=2026-01-01")
    assert page.status_code == 422
    text = html.unescape(page.text)
    assert "To must be on or after From." in text and 'aria-describedby="to-error"' in page.text  # tied to To
    assert _rows(page.text) == [number]  # the list shows without the dates
    assert 'value="12/31/2026"' in page.text and 'value="1/1/2026"' in page.text  # what was asked, as days are shown
    bad = approver.get(f"{QUEUE}?status=maybe")
    assert bad.status_code == 422 and "Approval Status must be one of" in html.unescape(bad.text)
    assert _rows(bad.text) == [number]
