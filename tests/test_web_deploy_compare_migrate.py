"""Issue "Polish", item 11: the Processes pages say what deploying does in the analyst's words, a file identical to
the latest version says so, Compare draws both diagrams with what changed marked, and Migrate offers the steps
the instances wait on as a list and says what happens to each instance."""

from __future__ import annotations

import json
import re
from html import unescape

from diagram_edits import ADDED, REMINDER, changed_request
from helpers import REQUEST, copy_with, task_url, upload
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import Deployment, ProcessVersion
from engine.workflow.parsing import PROCESSES_DIR

PAGE = "/admin/processes/"


def version_ids(factory) -> list[int]:
    with unit_of_work(factory) as s:
        query = select(ProcessVersion.id).where(ProcessVersion.process_id == "invoice_cancellation_request")
        return list(s.scalars(query.order_by(ProcessVersion.version)))


def json_block(html: str, block_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', html, re.S)
    assert found, f"no {block_id} block"
    return json.loads(found.group(1))


def test_the_deploy_section_says_what_happens_in_the_analysts_words(web, demo):
    page = web("analyst").get(PAGE).text
    assert "Each file is checked before anything is deployed" in page
    assert "make validate" not in page and "command-line" not in page


def test_a_file_identical_to_the_latest_version_says_no_change_and_its_number(web, demo, session_factory):
    analyst = web("analyst")
    same = upload(analyst, REQUEST, (PROCESSES_DIR / REQUEST).read_bytes())
    assert same.status_code == 302
    page = analyst.get(PAGE).text
    assert '<p class="flash flash-info" role="status">No change: identical to the latest version, 1.</p>' in page
    renamed = copy_with(REQUEST, ('name="Review request"', 'name="Review the request"'))
    upload(analyst, REQUEST, renamed)
    assert "Deployed: Invoice cancellation with approval is now version 2." in analyst.get(PAGE).text
    upload(analyst, REQUEST, renamed)
    assert "No change: identical to the latest version, 2." in analyst.get(PAGE).text
    assert len(version_ids(session_factory)) == 2
    with unit_of_work(session_factory) as s:  # each upload is still recorded
        outcomes = s.scalars(select(Deployment.outcome).where(Deployment.deployed_by == "analyst")).all()
    assert outcomes == ["unchanged", "new_version", "unchanged"]


def test_compare_draws_both_versions_with_what_changed_and_keeps_the_words(web, demo, session_factory):
    analyst = web("analyst")
    assert upload(analyst, REQUEST, changed_request()).status_code == 302
    old, new = version_ids(session_factory)
    page = analyst.get(PAGE + "compare", query_string={"old": old, "new": new}).text
    assert "bpmn-navigated-viewer" in page and "compare-diagram.js" in page
    for kind in ("Added (2)", "Changed (2)", "Removed (5)"):
        assert kind in page
    before, after = json_block(page, "diagram-old-data"), json_block(page, "diagram-new-data")
    assert 'id="remind_deciders"' not in after["xml"] and 'id="remind_deciders"' in before["xml"]
    assert sorted(before["removed"]) == sorted(REMINDER) and "added" not in before
    assert after["added"] == list(ADDED) and "removed" not in after
    assert before["changed"] == after["changed"] == ["review_request", "flow_record_decision_decision_gateway"]
    words = unescape(page)
    assert "name 'Review request' → 'Approve cancellation request'" in words  # the textual comparison stays
    assert "Tasks removed" in words and "Remind deciders (remind_deciders)" in words


def test_migrate_offers_the_steps_instances_wait_on_and_says_what_happens(web, demo, session_factory, db_snapshot):
    waiting, other = demo.invoice_numbers("NS")[:2]
    billing = web("billing")
    billing.post(task_url(waiting, "request_cancellation"), {"reason": "other", "remarks": "x"})
    analyst, admin = web("analyst"), web("admin")
    assert 'name="task"' not in analyst.get(PAGE).text  # no task id to type on the Processes page
    upload(analyst, REQUEST, copy_with(REQUEST, ('name="Review request"', 'name="Approve cancellation request"')))
    old, new = version_ids(session_factory)
    before = db_snapshot()
    dry = admin.get(PAGE + "migrate", query_string={"from": old, "to": new}).text
    assert '<select id="task" name="task">' in dry
    assert '<option value="review_request">Review request (review_request): 1 instance(s)</option>' in dry
    words = unescape(dry)
    assert "Stays on 'Review request' (renamed 'Approve cancellation request')" in words
    chosen = admin.get(PAGE + "migrate", query_string={"from": old, "to": new, "task": "review_request"}).text
    assert '<option value="review_request" selected>' in chosen and waiting in chosen
    assert db_snapshot() == before
    done = admin.post(PAGE + "migrate", {"from": old, "to": new, "task": "review_request"})
    assert done.status_code == 200 and "1 instance(s) migrated; 0 refused" in done.text
    assert other not in done.text
    history = unescape(billing.get(f"/billing/invoices/{waiting}").text)
    assert "stays on 'Review request' (renamed 'Approve cancellation request')" in history
    after = admin.get(PAGE + "migrate", query_string={"from": old, "to": new}).text
    assert "No instance of that version is running: nothing to move." in after


def test_a_dry_run_says_which_instances_cannot_move_and_why(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    upload(web("analyst"), REQUEST, changed_request())
    old, new = version_ids(session_factory)
    dry = unescape(web("admin").get(PAGE + "migrate", query_string={"from": old, "to": new}).text)
    assert "Cannot move: 'Reminder' is not in version 2 — it stays on version 1" in dry
    assert "Migrate 0 instance(s)" not in dry and "Migrate 1 instance(s)" not in dry
