"""Issue 14 (timers): the approval diagram's Reminder and Escalate timers on Review request, fired by the worker
at its clock's word (the tests move the clock, never sleep), exactly once; Fire now and Change due time."""

from __future__ import annotations

import html
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from helpers import REQUEST, assert_error, copy_with, upload
from sqlalchemy import func, select
from timer_rows import actions_of, ready_of, request_of, timers_of

from engine.db import unit_of_work
from engine.errors import Conflict, Invalid
from engine.instances.timers import NEVER
from engine.models import AuditEvent, Clinic, Event, ProcessInstance, UserTask, utcnow
from engine.reads.home import decidable_count
from engine.usecases import timers


def test_a_request_nobody_decides_is_reminded_once_then_escalated(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)
    reminder, escalation = timers_of(session_factory, number)
    requested_at = request_of(session_factory, number).requested_at
    assert (reminder.name, reminder.interrupting, reminder.attached_to) == ("Reminder", False, "Review request")
    assert (escalation.name, escalation.interrupting) == ("Escalate", True)
    assert abs(reminder.due_at - (requested_at + timedelta(days=1))) < timedelta(seconds=5)
    assert abs(escalation.due_at - (requested_at + timedelta(days=3))) < timedelta(seconds=5)
    with unit_of_work(session_factory, read_only=True) as s:  # only the worker fires: SpiffWorkflow's clock never
        tasks = json.loads(s.get(ProcessInstance, reminder.instance_id).state_json)["tasks"].values()
        assert {t["internal_data"].get("event_value") for t in tasks if t["task_spec"].endswith("_review")
                and "event_value" in t["internal_data"]} == {NEVER}  # fmt: skip

    def at(delta):
        return lambda: requested_at + delta

    assert timers.fire_due(session_factory, at(timedelta(hours=23))) == 0
    assert timers.fire_due(session_factory, at(timedelta(hours=25))) == 1
    assert request_of(session_factory, number).overdue_since == requested_at + timedelta(hours=25)
    assert ready_of(session_factory, number) == ["Review request"]  # the step keeps waiting
    mine = html.unescape(web("billing").get("/home").text)
    assert re.search(rf'<tr data-number="{number}">(?:(?!</tr>).)*>Overdue</span>', mine, re.S)
    queue = html.unescape(web("approver").get("/billing/financial-approval/").text)
    assert re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{number}(?:(?!</tr>).)*>Overdue</span>", queue, re.S)
    assert timers.fire_due(session_factory, at(timedelta(hours=49))) == 0  # once, not once a day
    assert [t.status for t in timers_of(session_factory, number)] == ["fired", "waiting"]
    assert decidable_count_of(demo, session_factory, "approver") == 1

    assert timers.fire_due(session_factory, at(timedelta(hours=73))) == 1
    assert [t.status for t in timers_of(session_factory, number)] == ["fired", "fired"]
    assert ready_of(session_factory, number) == ["Escalated review"]
    assert decidable_count_of(demo, session_factory, "approver") == 0
    assert decidable_count_of(demo, session_factory, "admin") == 1
    actions = actions_of(session_factory, number)
    assert actions.count("timer_fired") == 2 and "deciders_reminded" in actions and "escalated" in actions
    with unit_of_work(session_factory, read_only=True) as s:
        words = s.scalar(select(AuditEvent.details).where(AuditEvent.action == "escalated"))
        assert "Escalated after 3 days" in words
        assert s.scalar(select(func.count()).select_from(Event).where(Event.type.like("%.escalated"))) == 1

    demo.decide("admin", number, "approve")
    assert request_of(session_factory, number).status == "approved"
    assert ready_of(session_factory, number) == ["Cancel Invoice"]
    assert timers.fire_due(session_factory, at(timedelta(days=30))) == 0


def decidable_count_of(demo, factory, username: str) -> int:
    with unit_of_work(factory, read_only=True) as s:
        return decidable_count(s, demo.actor(username))


def test_a_decision_in_time_cancels_both_timers(demo, session_factory):
    number = demo.invoice_numbers("NS")[1]
    demo.request("billing", number)
    demo.decide("approver", number, "reject", "Not a duplicate")
    assert [t.status for t in timers_of(session_factory, number)] == ["cancelled", "cancelled"]
    with unit_of_work(session_factory, read_only=True) as s:
        instance = s.get(ProcessInstance, request_of(session_factory, number).instance_id)
        assert instance.next_timer_at is None
    assert (
        timers.fire_due(session_factory, lambda: request_of(session_factory, number).requested_at + timedelta(days=9))
        == 0
    )


def test_the_clinics_durations_decide_when(demo, session_factory):
    with unit_of_work(session_factory) as s:
        clinic = s.scalar(select(Clinic).where(Clinic.name == "Northside Clinic"))
        clinic.reminder_after, clinic.escalate_after = "PT4H", "P1DT12H"
    number = demo.invoice_numbers("NS")[2]
    demo.request("billing", number)
    requested_at = request_of(session_factory, number).requested_at
    reminder, escalation = timers_of(session_factory, number)
    assert abs(reminder.due_at - (requested_at + timedelta(hours=4))) < timedelta(seconds=5)
    assert abs(escalation.due_at - (requested_at + timedelta(hours=36))) < timedelta(seconds=5)


def test_fire_now_and_change_due_time_are_the_administrators_and_audited(demo, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[3]
    demo.request("billing", number)
    reminder, escalation = timers_of(session_factory, number)
    instance_id = reminder.instance_id
    admin, approver = demo.actor("admin"), demo.actor("approver")

    before = db_snapshot()
    for bad in ("next week", "2020-01-01 08:00"):
        with pytest.raises(Invalid), unit_of_work(session_factory) as s:
            timers.change_due(s, admin, instance_id, escalation.id, bad)
    with pytest.raises(Exception, match="clinic administrator"), unit_of_work(session_factory) as s:
        timers.fire_now(s, approver, instance_id, escalation.id)
    assert db_snapshot() == before

    new_due = (escalation.due_at + timedelta(days=2)).astimezone(__import__("zoneinfo").ZoneInfo(admin.timezone))
    with unit_of_work(session_factory) as s:
        timers.change_due(s, admin, instance_id, escalation.id, new_due.strftime("%Y-%m-%d %H:%M"))
    moved = timers_of(session_factory, number)[1]
    assert moved.due_at == escalation.due_at.replace(second=0, microsecond=0) + timedelta(days=2)
    assert timers.fire_due(session_factory, lambda: escalation.due_at + timedelta(minutes=1)) == 1  # the reminder only

    with unit_of_work(session_factory) as s:
        timers.fire_now(s, admin, instance_id, escalation.id)
    assert ready_of(session_factory, number) == ["Escalated review"]
    with pytest.raises(Conflict, match="fired already"), unit_of_work(session_factory) as s:
        timers.fire_now(s, admin, instance_id, escalation.id)
    actions = actions_of(session_factory, number)
    assert "timer_due_changed" in actions and "timer_fired_now" in actions


SETTINGS = {"cancellation_mode": "approval", "timezone": "America/New_York", "locale": "en_US", "currency": "USD"}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"reminder_after": "-P1D"}, "reminder_after", "Reminder after '-P1D' is negative"),
        ({"reminder_after": "one day"}, "reminder_after", "Reminder after 'one day' is not an ISO 8601 duration"),
        ({"escalate_after": "P0D"}, "escalate_after", "Escalate after 'P0D' is zero"),
        ({"reminder_after": "P2D", "escalate_after": "P1D"}, "escalate_after", "must be longer than Reminder after"),
    ],
)
def test_bad_durations_are_refused_naming_the_field_and_change_nothing(web, demo, changes, field, words, db_snapshot):
    admin = web("admin")
    before = db_snapshot()
    page = admin.post("/admin/settings", SETTINGS | {"reminder_after": "P1D", "escalate_after": "P3D"} | changes)
    assert page.status_code == 422 and words in html.unescape(page.text)
    assert f'id="{field}"' in page.text
    assert db_snapshot() == before


def test_durations_are_saved_from_the_page_and_the_api(web, demo, api, session_factory):
    admin = web("admin")
    saved = admin.post("/admin/settings", SETTINGS | {"reminder_after": "pt4h", "escalate_after": "P2D"})
    assert saved.status_code == 302
    page = admin.get("/admin/settings").text
    assert 'value="PT4H"' in page and 'value="P2D"' in page
    client = api("admin")
    assert client.get("/api/clinic/settings").json["reminder_after"] == "PT4H"
    changed = client.put(
        "/api/clinic/settings",
        {"cancellation_workflow": "approval", "timezone": "America/New_York", "locale": "en_US", "currency": "USD",
         "escalate_after": "P5D"},
    )  # fmt: skip
    assert changed.status_code == 200 and changed.json["escalate_after"] == "P5D"
    assert changed.json["reminder_after"] == "PT4H"  # left out: unchanged
    refused = client.put("/api/clinic/settings", changed.json | {"reminder_after": "P9D"})
    assert_error(refused, 422, "invalid", "must be longer than Reminder after")
    assert client.get("/api/clinic/settings").json["reminder_after"] == "PT4H"


CANCEL_REMINDER = """<bpmn:boundaryEvent id="remind_cancel" name="Cancel reminder" attachedToRef="cancel_invoice"
      cancelActivity="false">
      <bpmn:outgoing>flow_remind_cancel_note</bpmn:outgoing>
      <bpmn:timerEventDefinition id="remind_cancel_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{expression}</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:scriptTask id="note_cancel" name="Note the wait" scriptFormat="python">
      <bpmn:incoming>flow_remind_cancel_note</bpmn:incoming>
      <bpmn:outgoing>flow_note_cancel_end</bpmn:outgoing>
      <bpmn:script>remind_deciders(after="PT2H")</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="end_noted" name="Noted">
      <bpmn:incoming>flow_note_cancel_end</bpmn:incoming>
    </bpmn:endEvent>
    <bpmn:sequenceFlow id="flow_remind_cancel_note" sourceRef="remind_cancel" targetRef="note_cancel" />
    <bpmn:sequenceFlow id="flow_note_cancel_end" sourceRef="note_cancel" targetRef="end_noted" />
    <bpmn:userTask id="cancel_invoice" name="Cancel Invoice">"""


def _with_cancel_reminder(expression: str) -> bytes:
    return copy_with(
        REQUEST,
        ('<bpmn:userTask id="cancel_invoice" name="Cancel Invoice">', CANCEL_REMINDER.format(expression=expression)),
        ("<bpmn:flowNodeRef>cancel_invoice</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>cancel_invoice</bpmn:flowNodeRef><bpmn:flowNodeRef>remind_cancel</bpmn:flowNodeRef>"
         "<bpmn:flowNodeRef>note_cancel</bpmn:flowNodeRef><bpmn:flowNodeRef>end_noted</bpmn:flowNodeRef>"),
    )  # fmt: skip


def test_an_analyst_adds_a_timer_in_the_diagram_and_it_fires_without_code(web, demo, session_factory):
    assert upload(web("analyst"), REQUEST, _with_cancel_reminder('"PT2H"')).status_code == 302
    number = demo.invoice_numbers("NS")[4]
    demo.request("billing", number)
    demo.decide("approver", number)
    waiting = [t for t in timers_of(session_factory, number) if t.status == "waiting"]
    assert [(t.name, t.attached_to) for t in waiting] == [("Cancel reminder", "Cancel Invoice")]
    due = waiting[0].due_at
    assert timers.fire_due(session_factory, lambda: due - timedelta(minutes=1)) == 0
    assert timers.fire_due(session_factory, lambda: due + timedelta(minutes=1)) == 1
    assert ready_of(session_factory, number) == ["Cancel Invoice"]  # non-interrupting: the step still waits
    with unit_of_work(session_factory, read_only=True) as s:
        words = s.scalars(select(AuditEvent.details).where(AuditEvent.action == "deciders_reminded")).all()
        assert any('"2 h"' in w for w in words)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ('"tomorrow"', "gave 'tomorrow', which is not an ISO 8601 duration"),
        ('"-PT2H"', "is negative"),
        ("waiting_time", "uses 'waiting_time', which is not known when the timer starts"),
        ("clinic_setting(&quot;remind_me&quot;)", "names no setting"),
    ],
)
def test_validation_refuses_a_timer_it_cannot_evaluate(web, demo, expression, words, db_snapshot):
    analyst = web("analyst")
    before = db_snapshot()
    page = analyst.post("/admin/processes/deploy", {"file": (io.BytesIO(_with_cancel_reminder(expression)), REQUEST)},
                        content_type="multipart/form-data")  # fmt: skip
    assert page.status_code == 422
    assert "remind_cancel" in page.text and words in html.unescape(page.text)
    assert db_snapshot() == before


def test_the_instance_page_lists_timers_and_the_administrator_fires_or_moves_them(web, demo, session_factory):
    number = demo.invoice_numbers("NS")[5]
    demo.request("billing", number)
    reminder, escalation = timers_of(session_factory, number)
    admin = web("admin")
    url = f"/admin/instances/{reminder.instance_id}"
    page = html.unescape(admin.get(url).text)
    assert "Timers" in page and "Review request ends; the process goes on from Escalate" in page
    assert "the process goes on from Reminder; Review request keeps waiting" in page

    bad = admin.post(f"{url}/timers/{escalation.id}/due", {"due": "soon"})
    assert (
        bad.status_code == 422
        and "Due time 'soon' is not a date and time: write it as MM/DD/YYYY HH:MM, e.g. 12/24/2026 08:00."
        in html.unescape(bad.text)
    )
    assert web("approver").post(f"{url}/timers/{reminder.id}/fire").status_code == 403
    assert timers_of(session_factory, number)[0].status == "waiting"

    assert 'placeholder="MM/DD/YYYY HH:MM"' in page  # typed as the page shows times, not the browser's format
    moved = admin.post(f"{url}/timers/{escalation.id}/due", {"due": "12/24/2099 08:00"})
    assert moved.status_code == 302
    page = html.unescape(admin.get(url).text)
    assert "12/24/2099 08:00" in page and "Timer Escalate: due time changed" in page
    assert 'value="12/24/2099 08:00"' in page
    iso = admin.post(f"{url}/timers/{escalation.id}/due", {"due": "2099-12-25T09:30"})  # ISO still accepted
    assert iso.status_code == 302 and "12/25/2099 09:30" in html.unescape(admin.get(url).text)

    fired = admin.post(f"{url}/timers/{reminder.id}/fire")
    assert fired.status_code == 302
    page = html.unescape(admin.get(url).text)
    assert "The timer Reminder fired" in page and "Deciders reminded: no decision after 1 day" in page
    assert "Timer Reminder fired by hand (Fire now)" in page
    assert html.unescape(admin.get(f"/billing/invoices/{number}").text).count("Deciders reminded") == 1


def test_a_migrated_instance_counts_its_timers_from_when_its_step_started_waiting(web, demo, session_factory):
    from engine.models import ProcessVersion
    from engine.usecases import migration

    before_timers = (
        Path(__file__).parent / "old_versions" / "invoice_cancellation_request_before_timers.bpmn"
    ).read_bytes()
    assert upload(web("analyst"), REQUEST, before_timers).status_code == 302
    number = demo.invoice_numbers("NS")[7]
    demo.request("billing", number)  # on the version without timers
    assert timers_of(session_factory, number) == []
    instance_id = request_of(session_factory, number).instance_id
    waited = utcnow() - timedelta(days=2)
    with unit_of_work(session_factory) as s:
        s.scalar(
            select(UserTask).where(UserTask.instance_id == instance_id, UserTask.state == "ready")
        ).created_at = waited
        versions = s.scalars(
            select(ProcessVersion).where(ProcessVersion.process_id == "invoice_cancellation_request").order_by(
                ProcessVersion.version)
        ).all()  # fmt: skip
        shipped, old = versions[0].id, versions[-1].id
    result = migration.migrate(session_factory, demo.actor("admin"), old, shipped)
    assert [line.instance_id for line in result.moved] == [instance_id]

    reminder, escalation = timers_of(session_factory, number)
    assert abs(reminder.due_at - (waited + timedelta(days=1))) < timedelta(seconds=5)  # overdue already
    assert abs(escalation.due_at - (waited + timedelta(days=3))) < timedelta(seconds=5)
    assert timers.fire_due(session_factory) == 1  # reminded once, not once per missed day
    assert timers.fire_due(session_factory) == 0
    assert ready_of(session_factory, number) == ["Review request"]
    assert request_of(session_factory, number).overdue_since is not None
