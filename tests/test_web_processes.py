"""The Processes pages: who sees what, versions, files, compare, migrate; refusals write nothing."""

from __future__ import annotations

import io

from helpers import REQUEST, copy_with, task_url, upload
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import ProcessVersion

PAGE = "/admin/processes/"


def renamed_review() -> bytes:
    return copy_with(REQUEST, ('name="Review request"', 'name="Review the request"'))


def version_ids(factory) -> list[int]:
    with unit_of_work(factory) as s:
        return list(
            s.scalars(
                select(ProcessVersion.id)
                .where(ProcessVersion.process_id == "invoice_cancellation_request")
                .order_by(ProcessVersion.version)
            )
        )


def test_analyst_sees_processes_and_no_invoice(web, demo):
    analyst = web("analyst")
    page = analyst.get(PAGE).text
    for words in (
        "Invoice cancellation with approval",
        "Direct invoice cancellation",
        "Deploy",
        REQUEST,
        "approval_policy.dmn",
    ):
        assert words in page
    assert analyst.get("/billing/invoices").status_code == 403
    assert analyst.get(f"/billing/invoices/{demo.invoice_numbers('NS')[0]}").status_code == 403
    assert analyst.get("/billing/financial-approval/").status_code == 403
    assert analyst.get("/admin/instances").status_code == 403
    assert analyst.get("/").location.endswith(PAGE)


def test_admin_may_view_but_not_deploy(web, demo, db_snapshot):
    admin = web("admin")
    page = admin.get(PAGE).text
    assert "Invoice cancellation with approval" in page and 'action="/admin/processes/deploy"' not in page
    before = db_snapshot()
    assert upload(admin, REQUEST, renamed_review()).status_code == 403
    assert db_snapshot() == before
    for username in ("billing", "approver", "lakeside"):
        assert web(username).get(PAGE).status_code == 403


def test_version_diagram_files_and_compare(web, demo, session_factory):
    analyst = web("analyst")
    assert upload(analyst, REQUEST, renamed_review()).status_code == 302
    old, new = version_ids(session_factory)
    page = analyst.get(f"{PAGE}versions/{new}").text
    assert 'id="diagram-data"' in page and "bpmn-navigated-viewer" in page
    download = analyst.get(f"{PAGE}versions/{new}/files/{REQUEST}")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert b'name="Review the request"' in download.data
    assert analyst.get(f"{PAGE}versions/{new}/files/nothing.bpmn").status_code == 404
    compared = analyst.get(PAGE + "compare", query_string={"old": old, "new": new}).text
    assert "name &#39;Review request&#39; → &#39;Review the request&#39;" in compared


def test_deploy_refusals_on_the_page(web, demo, db_snapshot):
    analyst = web("analyst")
    before = db_snapshot()
    missing = analyst.post(PAGE + "deploy", {}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "Choose a .bpmn or .dmn file" in missing.text
    broken = upload(analyst, REQUEST, b"<bpmn:definitions")
    assert broken.status_code == 422 and f"{REQUEST}:1: -: the file is not well-formed XML" in broken.text
    assert analyst.post(PAGE + "deploy", {"file": (io.BytesIO(b"x"), REQUEST)}, csrf=False).status_code == 400
    assert db_snapshot() == before


def test_migrate_dry_run_then_apply(web, demo, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    web("billing").post(task_url(number, "request_cancellation"), {"reason": "other", "remarks": "x"})
    analyst, admin = web("analyst"), web("admin")
    upload(analyst, REQUEST, renamed_review())
    old, new = version_ids(session_factory)
    before = db_snapshot()
    same = admin.get(PAGE + "migrate", query_string={"from": new, "to": new})
    assert same.status_code == 422 and "other than" in same.text
    assert admin.get(PAGE + "migrate", query_string={"from": new, "to": old}).status_code == 200  # a rollback
    dry = admin.get(PAGE + "migrate", query_string={"from": old, "to": new, "task": "review_request"}).text
    assert number in dry and "Stays on &#39;Review request&#39; (renamed &#39;Review the request&#39;)" in dry
    assert "Migrate 1 instance(s)" in dry
    assert db_snapshot() == before
    done = admin.post(PAGE + "migrate", {"from": old, "to": new, "task": "review_request"})
    assert done.status_code == 200 and "1 instance(s) migrated; 0 refused" in done.text
    history = web("billing").get(f"/billing/invoices/{number}").text
    assert "Moved from version 1 to version 2" in history
    again = admin.get(PAGE + "migrate", query_string={"from": old, "to": new, "task": "review_request"}).text
    assert "No instance of that version waits on that task" in again
