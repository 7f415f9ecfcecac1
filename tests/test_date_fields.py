"""Issue 15 (2): a date field an analyst adds to a form is typed as the clinic writes days (12/1/2026 in en_US),
like every date the pages show; the workflow stores ISO 8601; a day it cannot read is refused with the format to
use, and nothing changes."""

from __future__ import annotations

import html
import re

from helpers import copy_with, latest_request_id, task_url, upload
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import CancellationRequest, UserTask

REQUEST = "invoice_cancellation_request.bpmn"
SERVICE_DAY = """<camunda:formField id="service_day" label="Date of service" type="date">
            <camunda:validation><camunda:constraint name="required" config="true" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="remarks" label="Remarks" type="string">"""


def test_a_date_field_reads_and_shows_the_clinics_format(web, demo, session_factory, db_snapshot):
    with_day = copy_with(REQUEST, ('<camunda:formField id="remarks" label="Remarks" type="string">', SERVICE_DAY))
    assert upload(web("analyst"), REQUEST, with_day).status_code == 302
    number = demo.invoice_numbers("NS")[3]
    billing = web("billing")

    form = html.unescape(billing.get(task_url(number, "request_cancellation")).text)
    field = re.search(r'<input id="field-service_day"[^>]*>', form).group(0)
    assert 'type="text"' in field and 'placeholder="MM/DD/YYYY"' in field

    before = db_snapshot()
    typed = {"reason": "duplicate", "remarks": "Billed twice", "service_day": "31.11.2026"}
    refused = billing.post(task_url(number, "request_cancellation"), typed)
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    assert "Date of service must be a date written as MM/DD/YYYY, e.g. 12/31/2026." in page
    assert 'value="31.11.2026"' in page  # what was typed stays in the field to correct
    assert db_snapshot() == before

    saved = billing.post(task_url(number, "request_cancellation"), {**typed, "service_day": "11/28/2026"})
    assert saved.status_code == 302
    with unit_of_work(session_factory, read_only=True) as s:
        instance_id = s.get(CancellationRequest, latest_request_id(session_factory, number)).instance_id
        rows = s.scalars(select(UserTask).where(UserTask.instance_id == instance_id))
        stored = next(r.values for r in rows if r.element_id == "request_cancellation")
        assert stored["service_day"] == "2026-11-28"  # the workflow keeps ISO 8601
    detail = html.unescape(web("admin").get(f"/admin/instances/{instance_id}").text)
    assert detail.count("<dt>Date of service</dt><dd>11/28/2026</dd>") == 2  # in the task list and the audit trail
