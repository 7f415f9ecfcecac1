"""Issue 15 (6. Process Instances): an Outcome column (Cancelled, Rejected, Withdrawn, Terminated, Undone) with
the end time and a termination's reason, stored when the instance ends; waiting ages as people say them; task
values with the form's labels and option names; Reason marked required before the first error."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from helpers import latest_request_id, task_url
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import CancellationRequest, Invoice, ProcessInstance, utcnow
from engine.reads.monitoring import age_words
from engine.usecases import instance_admin


def _outcomes(factory) -> dict[str, list[str | None]]:
    with unit_of_work(factory, read_only=True) as s:
        rows = s.execute(
            select(Invoice.number, ProcessInstance.outcome)
            .join(Invoice, Invoice.id == ProcessInstance.invoice_id)
            .order_by(ProcessInstance.id)
        ).all()
    found: dict[str, list[str | None]] = {}
    for number, outcome in rows:
        found.setdefault(number, []).append(outcome)
    return found


def test_each_ended_instance_says_how_it_ended_in_the_list(web, demo, session_factory):
    cancelled, rejected, withdrawn, terminated, waiting = demo.invoice_numbers("NS")[:5]
    for number in (cancelled, rejected, withdrawn, terminated, waiting):
        demo.request("billing", number)
    demo.decide("approver", cancelled)
    demo.cancel("billing", cancelled)
    demo.decide("approver", rejected, "reject", "Two visits")
    web("billing").post(task_url(withdrawn, "withdraw_review"), {"withdraw_remarks": "Paid after all"})
    with unit_of_work(session_factory) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, terminated)).instance_id
        instance_admin.terminate(s, demo.actor("admin"), instance_id, "Entered for the wrong clinic")
    lakeside = demo.invoice_numbers("LS")[0]
    demo.cancel("lakeside", lakeside)
    web("lakeside").post(task_url(lakeside, "undo_cancel"), {"undo_remarks": "Cancelled the wrong invoice"})

    assert _outcomes(session_factory) == {
        cancelled: ["cancelled"],
        rejected: ["rejected"],
        withdrawn: ["withdrawn"],
        terminated: ["terminated"],
        waiting: [None],
        lakeside: ["cancelled", "undone"],
    }
    page = html.unescape(web("admin").get("/admin/instances").text)
    assert '<th scope="col">Outcome</th>' in page and '<th scope="col">Ended</th>' in page
    row = re.search(rf"<tr>(?:(?!</tr>).)*>{terminated}<.*?</tr>", page, re.S).group(0)
    assert "Terminated" in row and "Entered for the wrong clinic" in row
    for number, label in ((cancelled, "Cancelled"), (rejected, "Rejected"), (withdrawn, "Withdrawn")):
        row = re.search(rf"<tr>(?:(?!</tr>).)*>{number}<.*?</tr>", page, re.S).group(0)
        assert f'class="outcome-{label.lower()}">{label}<' in row
    waiting_row = re.search(rf"<tr>(?:(?!</tr>).)*>{waiting}<.*?</tr>", page, re.S).group(0)
    assert "outcome-" not in waiting_row and "(less than a minute)" in waiting_row


def test_the_instance_page_shows_outcome_labels_and_a_required_reason(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number, reason="duplicate", remarks="Billed twice")
    with unit_of_work(session_factory, read_only=True) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, number)).instance_id
    admin = web("admin")
    page = html.unescape(admin.get(f"/admin/instances/{instance_id}").text)
    assert "<dt>Reason</dt><dd>Duplicate invoice</dd>" in page  # the option's name, under the field's label
    assert "<dt>Remarks</dt><dd>Billed twice</dd>" in page
    assert 'Reason <span class="required">(required)</span>' in page and "data-confirm=" in page
    assert "(less than a minute)" in page
    admin.post(f"/admin/instances/{instance_id}/terminate", {"reason": "Entered twice"})
    ended = html.unescape(admin.get(f"/admin/instances/{instance_id}").text)
    assert '<dd class="instance-outcome">Terminated: <span class="ended-reason">Entered twice</span></dd>' in ended


def test_waiting_ages_read_as_people_say_them():
    now = utcnow()
    assert age_words(now - timedelta(seconds=20), now) == "less than a minute"
    assert age_words(now - timedelta(minutes=20), now) == "20 min"
    assert age_words(now - timedelta(hours=3, minutes=20), now) == "3 h 20 min"
    assert age_words(now - timedelta(hours=3), now) == "3 h"
    assert age_words(now - timedelta(days=1, hours=5), now) == "1 day"
    assert age_words(now - timedelta(days=2, hours=23), now) == "2 days"
