"""Issue 10: API keys, people of several clinics, the audit log, and who may open which administration route."""

from __future__ import annotations

import re

import pytest
from helpers import csrf_from
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import ApiToken, Clinic


def _key(page_html: str) -> str:
    return re.search(r'class="one-time-password"><code>([^<]+)</code>', page_html).group(1)


def test_an_api_key_acts_for_the_clinics_system_until_revoked(web, demo, app, session_factory, db_snapshot):
    admin = web("admin")
    page = admin.post("/admin/integrations", {"name": "Billing system", "expires_on": ""})
    assert page.status_code == 200 and "API key Billing system created" in page.text
    key = _key(page.text)
    assert key not in admin.get("/admin/integrations").text  # shown once
    with unit_of_work(session_factory, read_only=True) as s:
        stored = s.scalar(select(ApiToken).where(ApiToken.kind == "key"))
        assert key not in stored.token_hash and stored.expires_at is None

    client = app.test_client()
    auth = {"Authorization": f"Bearer {key}"}
    clinic = client.get("/api/clinic", headers=auth)
    assert clinic.status_code == 200 and clinic.json["name"] == "Northside Clinic" and clinic.json["currency"] == "USD"
    staff_only = client.get("/api/invoices", headers=auth)
    assert staff_only.status_code == 403 and "API keys act for the clinic's billing system" in staff_only.text
    listing = admin.get("/admin/integrations").text
    row = re.search(r'<tr data-key="\d+">.*?</tr>', listing, re.S).group(0)
    assert "Active" in row and "never" not in row.split("</td>")[5]  # last used is shown

    before = db_snapshot()
    for bad, message in [
        ({"name": "", "expires_on": ""}, "Name the system the key is for"),
        ({"name": "X", "expires_on": "31/12/2026"}, "is not a date: write it as MM/DD/YYYY"),
        ({"name": "X", "expires_on": "2020-01-01"}, "Expires on must be today or later"),
    ]:
        refused = admin.post("/admin/integrations", bad)
        assert refused.status_code == 422 and message in refused.text
    assert web("approver").get("/admin/integrations").status_code == 403
    assert db_snapshot() == before

    key_id = re.search(r'<tr data-key="(\d+)">', listing).group(1)
    revoked = admin.post(f"/admin/integrations/{key_id}/revoke")
    assert "calls with it are refused from now on" in admin.get(revoked.headers["Location"]).text
    gone = client.get("/api/clinic", headers=auth)
    assert gone.status_code == 401 and "API key is unknown or revoked" in gone.json["error"]["message"]


def test_a_person_of_two_clinics_works_in_one_at_a_time(web, demo, app, session_factory):
    with unit_of_work(session_factory, read_only=True) as s:
        northside = s.scalar(select(Clinic.id).where(Clinic.name == "Northside Clinic"))
    root = web("root")
    granted = root.post(f"/admin/users/lakeside/roles?clinic={northside}", {"role": "billing_staff", "change": "grant"})
    assert "Lee Lakeside is now Billing staff" in root.get(granted.headers["Location"]).text

    lee = web("lakeside")
    first = lee.get("/billing/invoices").text
    assert "LS-" in first and "NS-" not in first and 'id="clinic-switch"' in first
    switched = lee.post("/account/clinic", {"clinic": str(northside)})
    assert "You now work in Northside Clinic" in lee.get(switched.headers["Location"], follow_redirects=True).text
    second = lee.get("/billing/invoices").text
    assert "NS-" in second and "LS-" not in second
    with unit_of_work(session_factory, read_only=True) as s:
        from engine.models import AuditEvent

        switch = s.scalar(select(AuditEvent).where(AuditEvent.action == "clinic_chosen"))
        assert switch.clinic_id == northside and switch.actor.username == "lakeside"
    assert (
        "You have no role in that clinic" in lee.post("/account/clinic", {"clinic": "999"}, follow_redirects=True).text
    )

    client = app.test_client()
    vague = client.post("/api/tokens", json={"username": "lakeside", "password": "demo"})
    assert vague.status_code == 422 and "You work in several clinics" in vague.json["error"]["fields"]["clinic"]
    token = client.post("/api/tokens", json={"username": "lakeside", "password": "demo", "clinic": "northside clinic"})
    assert token.status_code == 201
    here = client.get("/api/clinic", headers={"Authorization": f"Bearer {token.json['token']}"})
    assert here.json["name"] == "Northside Clinic"
    elsewhere = client.post("/api/tokens", json={"username": "lakeside", "password": "demo", "clinic": "Hillside"})
    assert elsewhere.status_code == 422 and "You have no role in clinic Hillside" in elsewhere.text


def _table(html: str) -> str:
    return re.search(r'<table class="audit".*?</table>', html, re.S).group(0)


def test_the_audit_log_shows_the_clinics_changes_and_logins(web, demo):
    admin = web("admin")
    admin.post("/admin/users/supervisor/roles", {"role": "admin", "change": "grant"})
    admin.post(
        "/admin/settings",
        {"cancellation_mode": "approval", "timezone": "America/Chicago", "locale": "en_US", "currency": "USD"},
    )
    web("lakeside")  # another clinic's login: not in Northside's log
    assert web().login("APPROVER", "wrong").status_code == 401  # a failure, whatever the case typed
    log = _table(admin.get("/admin/audit").text)
    assert "Role granted" in log and "user: supervisor; role: admin" in log
    assert "Clinic settings changed" in log and "America/New_York" in log and "America/Chicago" in log
    assert "Logged in" in log and "Ada Admin (admin)" in log and "lakeside" not in log
    assert "Login failed" in log and "Arjun Approver (approver)" in log
    only = _table(admin.get("/admin/audit?kind=role_granted").text)
    assert "Role granted" in only and "Clinic settings changed" not in only
    assert "Ada Admin" in _table(admin.get("/admin/audit?person=admin").text)
    csv = admin.get("/admin/audit.csv?kind=role_granted")
    assert csv.mimetype == "text/csv" and csv.text.splitlines()[0] == "At (America/Chicago),Who,Kind,Details"
    bad = admin.get("/admin/audit?from=yesterday")
    assert bad.status_code == 422


# Every administration route, each demo user: 200 (may), 403 (may not), 302 (to the login page).
ROUTES = ["/admin/users", "/admin/settings", "/admin/integrations", "/admin/audit", "/admin/clinics", "/account"]
MAY = {
    "billing": {"/account"},
    "approver": {"/account"},
    "supervisor": {"/account"},
    "admin": {"/admin/users", "/admin/settings", "/admin/integrations", "/admin/audit", "/account"},
    "lakeside": {"/account"},
    "analyst": {"/account"},
    "root": {"/admin/users", "/admin/clinics", "/account"},
}


@pytest.mark.parametrize("username", sorted(MAY))
def test_who_may_open_each_administration_page(web, demo, username):
    client = web(username)
    for route in ROUTES:
        expected = 200 if route in MAY[username] else 403
        assert client.get(route).status_code == expected, (username, route)
    token = csrf_from(client.get("/account").text)
    for route in ("/admin/users/billing/roles", "/admin/users/billing/active", "/admin/users/billing/password"):
        query = "?clinic=1" if username == "root" else ""  # the installation administrator names the clinic
        status = client.client.post(route + query, data={"role": "approver", "csrf_token": token}).status_code
        assert status in ((302, 200) if username in ("admin", "root") else (403,)), (username, route, status)


def test_administration_needs_a_login(web, demo):
    anonymous = web()
    for route in ROUTES:
        assert anonymous.get(route).status_code == 302


def test_service_accounts_are_not_managed_as_people(web, demo, session_factory, db_snapshot):
    admin = web("admin")
    admin.post("/admin/integrations", {"name": "Billing system"})
    users = admin.get("/admin/users").text
    assert "Billing system (API key)" not in users
    with unit_of_work(session_factory, read_only=True) as s:
        from engine.models import User

        account = s.scalar(select(User).where(User.full_name == "Billing system (API key)")).username
    before = db_snapshot()
    for route, data in [
        (f"/admin/users/{account}/password", {}),
        (f"/admin/users/{account}/roles", {"role": "admin", "change": "grant"}),
    ]:
        page = admin.post(route, data, follow_redirects=True).text
        assert "is an API key&#39;s service account: manage it on Integrations" in page
    assert db_snapshot() == before


def test_the_last_administrator_of_another_clinic_is_kept_active(web, demo, db_snapshot):
    root = web("root")
    root.post("/admin/users/lakeside/roles?clinic=2", {"role": "admin", "change": "grant"})
    root.post("/admin/users/lakeside/roles?clinic=1", {"role": "billing_staff", "change": "grant"})
    before = db_snapshot()
    page = root.post("/admin/users/lakeside/active?clinic=1", {"active": "0"}, follow_redirects=True).text
    assert "Lee Lakeside is the last clinic administrator of Lakeside Clinic" in page
    assert db_snapshot() == before


def test_a_form_shown_for_one_clinic_does_not_act_on_another(web, demo, db_snapshot):
    before = db_snapshot()
    stale = web("admin").post("/admin/users/billing/roles?clinic=2", {"role": "approver", "change": "grant"})
    assert stale.status_code == 404
    assert db_snapshot() == before


# Every state-changing administration page, each demo user: the refused get 403 and nothing changes.
POSTS = [
    ("/admin/users", {"username": "x.y", "full_name": "X Y", "email": "x@northside.example", "roles": "approver"}),
    ("/admin/users/billing/roles", {"role": "approver", "change": "grant"}),
    ("/admin/users/billing/active", {"active": "0"}),
    ("/admin/users/billing/password", {}),
    ("/admin/settings", {"cancellation_mode": "direct", "timezone": "UTC", "locale": "en_US", "currency": "USD"}),
    ("/admin/integrations", {"name": "Billing system"}),
    ("/admin/integrations/1/revoke", {}),
    (
        "/admin/clinics",
        {
            "name": "Z Clinic",
            "cancellation_mode": "direct",
            "timezone": "UTC",
            "locale": "en_US",
            "currency": "USD",
            "admin_username": "billing",
        },
    ),  # fmt: skip
    ("/admin/clinics/1/name", {"name": "Renamed"}),
]
POST_MAY = {
    "admin": {
        "/admin/users",
        "/admin/users/billing/roles",
        "/admin/users/billing/active",
        "/admin/users/billing/password",
        "/admin/settings",
        "/admin/integrations",
        "/admin/integrations/1/revoke",
    },  # fmt: skip
    "root": {
        "/admin/clinics",
        "/admin/clinics/1/name",
        "/admin/users",
        "/admin/users/billing/roles",
        "/admin/users/billing/active",
        "/admin/users/billing/password",
    },  # fmt: skip
}


@pytest.mark.parametrize("username", ["billing", "approver", "supervisor", "lakeside", "analyst"])
def test_the_refused_change_nothing_on_any_administration_form(web, demo, username, db_snapshot):
    client = web(username)
    before = db_snapshot()
    for route, data in POSTS:
        assert client.post(route, data).status_code == 403, (username, route)
    assert db_snapshot() == before


@pytest.mark.parametrize("username", ["admin", "root"])
def test_the_allowed_reach_every_administration_form_they_may(web, demo, username):
    client = web(username)
    for route, data in POSTS:
        query = "?clinic=1" if username == "root" and route.startswith("/admin/users") else ""
        status = client.post(route + query, data).status_code
        expected = {200, 302, 404, 422} if route in POST_MAY[username] else {403}  # 404: key 1 is not there yet
        assert status in expected, (username, route, status)
