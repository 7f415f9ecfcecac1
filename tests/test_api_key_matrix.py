"""Issue 11: an Integration API key reaches the integration routes and nothing else, in its own clinic only."""

from __future__ import annotations

import re

import pytest
from helpers import Api, assert_error
from sqlalchemy import select

from engine.accounts.roles import Role
from engine.accounts.users import actor_for
from engine.db import unit_of_work
from engine.models import Clinic, Invoice, RoleGrant, User
from engine.usecases import integrations

# What a billing system's key may call; every other route of the API refuses it (403) and writes nothing.
INTEGRATION_ROUTES = {
    ("PUT", "/api/invoices/<number>"),
    ("GET", "/api/clinic"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/events"),
}
PUBLIC = {("POST", "/api/tokens")}  # a person's login: the key is not used, the missing password is refused


def _key(session_factory, demo, clinic: str = "Northside Clinic") -> str:
    """A key made by the clinic's administrator (Lakeside's billing user is made one for the test)."""
    with unit_of_work(session_factory) as s:
        if clinic == "Northside Clinic":
            admin = demo.actor("admin")
        else:
            user = s.scalar(select(User).where(User.username == "lakeside"))
            clinic_id = s.scalar(select(Clinic.id).where(Clinic.name == clinic))
            s.add(RoleGrant(user_id=user.id, clinic_id=clinic_id, role=Role.ADMIN))
            s.flush()
            admin = actor_for(s, user.id)
        return integrations.create_key(s, admin, "Billing system")[1]


def _url(rule: str, number: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: number if m.group(1) == "number" else "1", rule)


def test_a_key_can_do_nothing_but_the_integration_routes(app, demo, session_factory, db_snapshot):
    key = Api(app.test_client(), _key(session_factory, demo))
    number = demo.invoice_numbers("NS")[0]
    demo.request("billing", number)  # so that routes about requests and instances have something to refuse
    routes = sorted(
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )
    assert INTEGRATION_ROUTES <= set(routes) and len(routes) > 20
    before = db_snapshot()
    seen = {}
    for method, rule in routes:
        if (method, rule) in INTEGRATION_ROUTES and method != "GET":
            continue  # the upsert writes: tried below
        response = key.client.open(_url(rule, number), method=method, json={}, headers=key.headers())
        seen[(method, rule)] = response.status_code
    allowed = {route: code for route, code in seen.items() if route in INTEGRATION_ROUTES | PUBLIC}
    refused = {route: code for route, code in seen.items() if route not in INTEGRATION_ROUTES | PUBLIC}
    assert all(code == 200 for route, code in allowed.items() if route in INTEGRATION_ROUTES), allowed
    assert set(refused.values()) == {403}, {r: c for r, c in refused.items() if c != 403}
    assert seen[("POST", "/api/tokens")] == 422
    assert db_snapshot() == before


def test_a_key_writes_only_its_own_clinics_invoices_and_a_staff_token_none(
    app, demo, api, session_factory, db_snapshot
):
    northside = demo.invoice_numbers("NS")[0]
    body = {
        "patient_id": "P-1",
        "patient_name": "Someone Else",
        "invoice_date": "2026-11-30",
        "amount": "10.00",
        "currency": "USD",
    }
    staff = api("admin")
    before = db_snapshot()
    assert_error(staff.put(f"/api/invoices/{northside}", body), 403, "forbidden", "billing system")
    assert db_snapshot() == before

    # A Lakeside key names invoices in Lakeside: Northside's number is a new Lakeside invoice to it.
    lakeside = Api(app.test_client(), _key(session_factory, demo, "Lakeside Clinic"))
    created = lakeside.client.put(f"/api/invoices/{northside}", json=body, headers=lakeside.headers())
    assert created.status_code == 201
    with unit_of_work(session_factory, read_only=True) as s:
        rows = s.execute(
            select(Clinic.name, Invoice.patient_name)
            .join(Clinic)
            .where(Invoice.number == northside)
            .order_by(Clinic.name)
        ).all()
    assert rows[0] == ("Lakeside Clinic", "Someone Else") and rows[1][0] == "Northside Clinic"
    assert rows[1][1] != "Someone Else"  # Northside's invoice of that number is untouched
    assert before["invoices"] == [r for r in db_snapshot()["invoices"] if r in before["invoices"]]


@pytest.mark.parametrize("route", ["/api/invoices/{n}", "/api/process-instances/1", "/api/cancellation-requests/1"])
def test_another_clinics_key_reads_nothing_of_this_clinic(app, demo, session_factory, route):
    lakeside = Api(app.test_client(), _key(session_factory, demo, "Lakeside Clinic"))
    response = lakeside.get(route.format(n=demo.invoice_numbers("NS")[0]))
    assert response.status_code in (403, 404)
