"""Issue 9, item 11: no request is left with nobody to decide it.

Northside has one clinic administrator (admin). When admin takes the first approval of a request of 1,000.00 or
more, the second approval needs a clinic administrator who has not decided it: there is none.
"""

from __future__ import annotations

import re

import pytest
from alembic import command
from helpers import latest_request_id, review_url
from sqlalchemy import select

from engine.db import unit_of_work
from engine.errors import Forbidden, Invalid, NotFound
from engine.models import AuditEvent, Invoice, ProcessInstance, RoleGrant, User
from engine.reads import monitoring
from engine.schema import alembic_config
from engine.usecases import people

FLAG = "No one may decide"


def _big_request(demo, number: str, amount: str = "1500.00", by: str = "billing") -> None:
    demo.set_amount(number, amount)
    demo.request(by, number, reason="other", remarks="Entered twice")


def _instance(session_factory, number: str) -> ProcessInstance:
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == number))
        return s.scalars(select(ProcessInstance).where(ProcessInstance.invoice_id == invoice.id)).all()[-1]


def _flagged(demo, session_factory, viewer: str = "admin") -> list[str]:
    """Invoice numbers of the instances Process Instances lists under No one may decide, and the count agrees."""
    admin = demo.actor(viewer)
    with unit_of_work(session_factory, read_only=True) as s:
        page = monitoring.list_instances(s, admin, monitoring.InstanceFilters(no_one_may_decide=True))
        count = monitoring.overview(s, admin).no_one_may_decide
    numbers = [row.invoice_number for row in page.items]
    assert count == len(numbers)
    return numbers


def _change(session_factory, demo, username: str, fn, *args):
    with unit_of_work(session_factory) as s:
        return fn(s, demo.actor(username), *args)


def test_admin_taking_the_first_of_two_approvals_leaves_no_one_for_the_second(web, demo, session_factory):
    big, small = demo.invoice_numbers("NS")[:2]
    _big_request(demo, big)
    _big_request(demo, small, amount="200.00")
    assert _flagged(demo, session_factory) == []
    demo.decide("admin", big)  # the second approval becomes ready: admin decided already, no other admin
    assert _instance(session_factory, big).waiting_element == "second_approval"
    assert _flagged(demo, session_factory) == [big]

    admin = web("admin")
    listing = admin.get("/admin/instances").text
    assert re.search(r'<span class="n">1</span>\s*' + FLAG, listing)
    only = admin.get("/admin/instances?no_one_may_decide=1").text
    assert big in only and small not in only
    assert FLAG in re.search(rf"<tr>\s*<td[^>]*><a[^>]*>{big}</a>.*?</tr>", only, re.S).group(0)
    page = admin.get(f"/admin/instances/{_instance(session_factory, big).id}").text
    assert FLAG in page
    assert "Second approval" in page and "Clinic administrator" in page
    assert "give the Clinic administrator role to someone else" in page and "terminate" in page.lower()

    # The waiting small request is not flagged: approver, supervisor and admin may each decide it.
    assert small not in _flagged(demo, session_factory)


def test_the_flag_follows_role_grants_and_users(demo, session_factory):
    number = demo.invoice_numbers("NS")[0]
    _big_request(demo, number)
    demo.decide("admin", number)
    assert _flagged(demo, session_factory) == [number]

    _change(session_factory, demo, "admin", people.grant_role, "supervisor", "admin")
    assert _flagged(demo, session_factory) == []
    _change(session_factory, demo, "admin", people.set_active, "supervisor", False)
    assert _flagged(demo, session_factory) == [number]
    _change(session_factory, demo, "admin", people.set_active, "supervisor", True)
    assert _flagged(demo, session_factory) == []
    _change(session_factory, demo, "admin", people.revoke_role, "supervisor", "admin")
    assert _flagged(demo, session_factory) == [number]

    # Someone other than admin and the requester holds the role again: they decide, nothing is flagged.
    _change(session_factory, demo, "admin", people.grant_role, "approver", "admin")
    demo.decide("approver", number)
    assert _flagged(demo, session_factory) == []
    with unit_of_work(session_factory, read_only=True) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.invoice_id.is_(None)))]
    assert actions.count("role_granted") == 2 and actions.count("role_revoked") == 1
    assert actions.count("user_deactivated") == 1 and actions.count("user_reactivated") == 1


def test_the_requester_alone_holding_the_role_is_no_one(demo, session_factory):
    """supervisor, the one clinic administrator left, requests: the review is flagged as it becomes ready."""
    number = demo.invoice_numbers("NS")[0]
    _change(session_factory, demo, "admin", people.grant_role, "supervisor", "admin")
    _change(session_factory, demo, "supervisor", people.set_active, "admin", False)
    _change(session_factory, demo, "supervisor", people.set_active, "approver", False)
    demo.request("supervisor", number, reason="other", remarks="Entered twice")
    assert _instance(session_factory, number).waiting_element == "review_request"
    assert _flagged(demo, session_factory, "supervisor") == [number]
    _change(session_factory, demo, "supervisor", people.set_active, "approver", True)
    assert _flagged(demo, session_factory, "supervisor") == []


def test_refused_changes_of_people_change_nothing(demo, session_factory, db_snapshot):
    before = db_snapshot()
    with pytest.raises(Forbidden, match="clinic administrator"):
        _change(session_factory, demo, "approver", people.grant_role, "billing", "approver")
    with pytest.raises(Invalid, match="Billing staff, Approver, Clinic administrator"):
        _change(session_factory, demo, "admin", people.grant_role, "billing", "analyst")
    with pytest.raises(NotFound, match="lakeside"):
        _change(session_factory, demo, "admin", people.grant_role, "lakeside", "approver")
    with pytest.raises(NotFound, match="analyst"):
        _change(session_factory, demo, "admin", people.set_active, "analyst", False)
    with pytest.raises(Invalid, match="another clinic administrator"):
        _change(session_factory, demo, "admin", people.set_active, "admin", False)
    with pytest.raises(Invalid, match="only role: deactivate"):
        _change(session_factory, demo, "admin", people.revoke_role, "billing", "billing_staff")
    with pytest.raises(Invalid, match="last clinic administrator"):
        _change(session_factory, demo, "admin", people.revoke_role, "admin", "admin")
    assert db_snapshot() == before
    with unit_of_work(session_factory, read_only=True) as s:
        billing = s.scalar(select(User).where(User.username == "billing"))
        assert [g.role for g in s.scalars(select(RoleGrant).where(RoleGrant.user_id == billing.id))] == [
            "billing_staff"
        ]


WARNING = "needs a Clinic administrator who has not taken part in this request, and there is no one but you"


def test_the_review_page_warns_the_only_administrator_before_the_first_of_two_approvals(web, demo, session_factory):
    big, small = demo.invoice_numbers("NS")[:2]
    _big_request(demo, big)
    _big_request(demo, small, amount="999.99")
    admin, approver = web("admin"), web("approver")
    page = admin.get(review_url(session_factory, big)).text
    assert WARNING in page and "Second approval" in page
    assert WARNING not in approver.get(review_url(session_factory, big)).text  # admin can take the second
    assert WARNING not in admin.get(review_url(session_factory, small)).text  # one approval suffices

    _change(session_factory, demo, "admin", people.grant_role, "supervisor", "admin")
    assert WARNING not in admin.get(review_url(session_factory, big)).text


def test_upgrading_flags_the_instances_already_waiting_on_no_one(demo, session_factory, database_url):
    """Migration 0012 finds the instances that waited on no one before the flag existed."""
    stuck, fine = demo.invoice_numbers("NS")[:2]
    _big_request(demo, stuck)
    _big_request(demo, fine)
    demo.decide("admin", stuck)
    command.downgrade(alembic_config(database_url), "0011")
    command.upgrade(alembic_config(database_url), "head")
    assert _flagged(demo, session_factory) == [stuck]


def test_administration_users_page_gives_the_role_and_the_flag_goes(web, demo, session_factory, db_snapshot):
    number = demo.invoice_numbers("NS")[0]
    _big_request(demo, number)
    demo.decide("admin", number)
    admin = web("admin")
    instance_page = admin.get(f"/admin/instances/{_instance(session_factory, number).id}").text
    assert 'href="/admin/users"' in instance_page
    users = admin.get("/admin/users").text
    assert re.search(r'data-username="supervisor".*?Billing staff, Approver', users, re.S)

    # Refused: another role than a clinic's, no CSRF token, not a clinic administrator: nothing changes.
    before = db_snapshot()
    refused = admin.post("/admin/users/supervisor/roles", {"role": "analyst", "change": "grant"})
    assert "Nothing was changed: Role must be one of" in admin.get(refused.headers["Location"]).text
    assert (
        admin.post("/admin/users/supervisor/roles", {"role": "admin", "change": "grant"}, csrf=False).status_code == 400
    )
    approver = web("approver")
    assert approver.post("/admin/users/supervisor/roles", {"role": "admin", "change": "grant"}).status_code == 403
    assert approver.get("/admin/users").status_code == 403
    assert admin.post("/admin/users/lakeside/active", {"active": "0"}).status_code == 404
    assert db_snapshot() == before
    assert _flagged(demo, session_factory) == [number]

    done = admin.post("/admin/users/supervisor/roles", {"role": "admin", "change": "grant"})
    assert "Sam Supervisor is now Clinic administrator." in admin.get(done.headers["Location"]).text
    assert _flagged(demo, session_factory) == []
    assert "No one may decide" not in admin.get(f"/admin/instances/{_instance(session_factory, number).id}").text


def test_a_clinic_administrator_does_not_deactivate_someone_who_also_works_elsewhere(demo, session_factory,
                                                                                     db_snapshot):  # fmt: skip
    with unit_of_work(session_factory) as s:
        lakeside = s.scalar(select(User).where(User.username == "lakeside"))
        northside = s.scalar(select(RoleGrant.clinic_id).join(User).where(User.username == "billing"))
        s.add(RoleGrant(user_id=lakeside.id, clinic_id=northside, role="billing_staff"))
    before = db_snapshot()
    with pytest.raises(Invalid, match="also works outside Northside Clinic"):
        _change(session_factory, demo, "admin", people.set_active, "lakeside", False)
    assert db_snapshot() == before


def test_the_api_decision_form_carries_the_same_warning(api, demo, session_factory):
    big = demo.invoice_numbers("NS")[0]
    _big_request(demo, big)
    request_id = latest_request_id(session_factory, big)
    form = api("admin").get(f"/api/cancellation-requests/{request_id}/decision/form").json
    assert any(WARNING in w for w in form["warnings"])
    assert api("approver").get(f"/api/cancellation-requests/{request_id}/decision/form").json["warnings"] == []
