"""Issue 10: a real installation and its clinics are set up and run without touching the database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from helpers import csrf_from
from sqlalchemy import func, select

from engine.accounts.roles import lane_roles
from engine.db import unit_of_work
from engine.models import AuditEvent, Clinic, Invoice, ProcessInstance, RoleGrant, User

STRONG = "quartz lantern meadow 42"


def _cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = os.environ | {"DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], env=env, input=stdin, capture_output=True, text=True
    )


def _users(session_factory) -> list[tuple[str, list[str]]]:
    with unit_of_work(session_factory, read_only=True) as s:
        return [
            (u.username, sorted(g.role for g in s.scalars(select(RoleGrant).where(RoleGrant.user_id == u.id))))
            for u in s.scalars(select(User).order_by(User.id))
        ]


def test_init_creates_the_first_installation_administrator_once(database_url, session_factory):
    weak = _cli(database_url, "init", "--admin", "ops", stdin="password\n")
    assert weak.returncode == 1 and "Nothing was changed: Password must have at least 12 characters" in weak.stderr
    assert _users(session_factory) == []
    done = _cli(database_url, "init", "--admin", "ops", "--full-name", "Olu Ops", stdin=STRONG + "\n")
    assert done.returncode == 0, done.stderr
    assert "Installation administrator ops created" in done.stdout
    assert _users(session_factory) == [("ops", ["installation_admin"])]
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(func.count(Clinic.id))) == 0 and s.scalar(select(func.count(Invoice.id))) == 0
    again = _cli(database_url, "init", "--admin", "other", stdin=STRONG + "\n")
    assert again.returncode == 0 and "already initialised" in again.stdout
    assert _users(session_factory) == [("ops", ["installation_admin"])]


def test_grant_installation_admin_serves_upgraded_installations(demo, database_url, session_factory):
    done = _cli(database_url, "grant-installation-admin", "Admin")  # usernames match whatever their case
    assert done.returncode == 0 and "admin is now an installation administrator" in done.stdout
    assert ("admin", ["admin", "installation_admin"]) in _users(session_factory)
    missing = _cli(database_url, "grant-installation-admin", "nobody")
    assert missing.returncode == 1 and "There is no user nobody" in missing.stderr


def _handed_password(html: str) -> str:
    return re.search(r'class="one-time-password"><code>([^<]+)</code>', html).group(1)


def test_an_administrator_adds_an_approver_who_must_choose_a_password(web, demo, session_factory):
    admin = web("admin")
    page = admin.post(
        "/admin/users",
        {"username": "m.tanaka", "full_name": "Maria Tanaka", "email": "maria@northside.example",
         "roles": "approver"},
    )  # fmt: skip
    assert page.status_code == 200 and "Maria Tanaka (m.tanaka) was added as Approver." in page.text
    password = _handed_password(page.text)
    assert password not in admin.get("/admin/users").text  # shown once
    with unit_of_work(session_factory, read_only=True) as s:
        user = s.scalar(select(User).where(User.username == "m.tanaka"))
        assert password not in user.password_hash and user.must_change_password and user.email

    maria = web()
    assert maria.login("m.tanaka", password).headers["Location"].endswith("/account")
    assert maria.get("/billing/financial-approval/").headers["Location"].endswith("/account")
    # The API refuses her until she chose her own password.
    refused = maria.client.post("/api/tokens", json={"username": "m.tanaka", "password": password})
    assert refused.status_code == 403 and "Choose your own password first" in refused.json["error"]["message"]

    token = csrf_from(maria.get("/account").text)
    form = {"current_password": password, "new_password": "password12345", "new_password_again": "password12345",
            "csrf_token": token}  # fmt: skip
    weak = maria.client.post("/account", data=form)
    assert weak.status_code == 422 and "Password is too easy to guess" in weak.text
    form |= {"new_password": STRONG, "new_password_again": STRONG + "x"}
    assert "The two new passwords differ" in maria.client.post("/account", data=form).text
    form |= {"new_password_again": STRONG}
    assert maria.client.post("/account", data=form).status_code == 302
    queue = maria.get("/billing/financial-approval/")
    assert queue.status_code == 200 and "Financial Approval" in queue.text
    assert web().login("m.tanaka", password).status_code == 401  # the one-time password is gone
    assert web().login("m.tanaka", STRONG).status_code == 302


def test_bad_new_users_are_refused_field_by_field_and_nothing_is_written(web, demo, db_snapshot):
    admin = web("admin")
    before = db_snapshot()
    cases = [
        ({"username": "", "full_name": "X", "email": "x@northside.example", "roles": "approver"}, "Username must be"),
        ({"username": "ADMIN", "full_name": "X", "email": "x@northside.example", "roles": "approver"}, "is taken"),
        ({"username": "x.y", "full_name": "X", "email": "not-an-email", "roles": "approver"}, "Email is not valid"),
        ({"username": "x.y", "full_name": "", "email": "x@northside.example", "roles": "approver"}, "Full name is"),
        ({"username": "x.y", "full_name": "X", "email": "x@northside.example"}, "Choose one or more roles"),
        ({"username": "x.y", "full_name": "X", "email": "x@northside.example", "roles": "analyst"}, "Choose one"),
    ]
    for form, message in cases:
        page = admin.post("/admin/users", form)
        assert page.status_code == 422 and message in page.text, message
        assert "nobody was added" in page.text
    assert db_snapshot() == before


def test_the_last_administrator_and_oneself_are_kept(web, demo, db_snapshot):
    admin = web("admin")
    before = db_snapshot()
    page = admin.get(admin.post("/admin/users/admin/roles", {"role": "admin", "change": "revoke"}).headers["Location"])
    assert "Nothing was changed: Ada Admin is the last clinic administrator of Northside Clinic" in page.text
    page = admin.get(admin.post("/admin/users/admin/active", {"active": "0"}).headers["Location"])
    assert "You cannot deactivate yourself" in page.text
    assert db_snapshot() == before


def test_reset_password_ends_the_users_sessions(web, demo):
    approver = web("approver")
    assert approver.get("/billing/financial-approval/").status_code == 200
    page = web("admin").post("/admin/users/approver/password")
    password = _handed_password(page.text)
    assert approver.get("/billing/financial-approval/").status_code == 302  # logged out
    assert web().login("approver", "demo").status_code == 401
    assert web().login("approver", password).headers["Location"].endswith("/account")


def _settings(client, **changes) -> object:
    values = {"cancellation_mode": "approval", "timezone": "America/New_York", "locale": "en_US", "currency": "USD"}
    return client.post("/admin/settings", values | changes)


def test_switching_to_direct_cancellation_applies_to_new_cancellations_only(web, demo, session_factory):
    running, fresh = demo.invoice_numbers("NS")[:2]
    demo.request("billing", running)
    admin = web("admin")
    saved = _settings(admin, cancellation_mode="direct")
    assert saved.status_code == 302
    assert "those already running finish as they started" in admin.get("/admin/settings").text
    billing = web("billing")
    invoice_page = billing.get(f"/billing/invoices/{fresh}").text
    assert "Cancel Invoice" in invoice_page and "Invoice Cancellation Request" not in invoice_page
    # The running request still completes on its approval process.
    demo.decide("approver", running)
    demo.cancel("billing", running)
    with unit_of_work(session_factory, read_only=True) as s:
        invoice = s.scalar(select(Invoice).where(Invoice.number == running))
        instance = s.scalar(select(ProcessInstance).where(ProcessInstance.invoice_id == invoice.id))
        assert invoice.status == "cancelled" and instance.version.process_id == "invoice_cancellation_request"
        change = s.scalar(select(AuditEvent).where(AuditEvent.action == "clinic_settings_changed"))
        assert json.loads(change.details)["changes"]["cancellation_mode"] == ["approval", "direct"]
        assert change.actor.username == "admin"
    demo.cancel("billing", fresh)  # direct: one step
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(Invoice.status).where(Invoice.number == fresh)) == "cancelled"


def test_bad_settings_are_refused_field_by_field(web, demo, db_snapshot):
    admin = web("admin")
    before = db_snapshot()
    for change, message in [
        ({"timezone": "Mars/Olympus"}, "is not in the IANA list"),
        ({"locale": "xx_QQ"}, "Locale &#39;xx_QQ&#39; is not known"),
        ({"currency": "ABC"}, "is not an ISO 4217 code"),
        ({"currency": "EUR"}, "Currency stays USD: the clinic already has invoices"),
        ({"cancellation_mode": "sometimes"}, "Cancellation workflow must be"),
    ]:
        page = _settings(admin, **change)
        assert page.status_code == 422 and message in page.text, message
    assert db_snapshot() == before


def test_the_installation_administrator_creates_a_clinic_and_its_administrator(web, demo, session_factory):
    root = web("root")
    assert root.get("/").headers["Location"].endswith("/admin/clinics")
    form = {"name": "Hillside Clinic", "cancellation_mode": "direct", "timezone": "Europe/Zurich", "locale": "de_CH",
            "currency": "CHF", "admin_new_username": "h.admin", "admin_full_name": "Hana Hill",
            "admin_email": "hana@hillside.example"}  # fmt: skip
    page = root.post("/admin/clinics", form)
    assert page.status_code == 200 and "Clinic Hillside Clinic created; Hana Hill (h.admin)" in page.text
    password = _handed_password(page.text)
    duplicate = root.post("/admin/clinics", form | {"name": "hillside clinic", "admin_new_username": "h.other"})
    assert duplicate.status_code == 422 and "There already is a clinic named Hillside Clinic" in duplicate.text
    assert "Hana Hill" in root.get("/admin/users?clinic=3").text
    assert root.get("/billing/invoices").status_code == 403  # no invoice or patient data

    hana = web()
    hana.login("h.admin", password)
    token = csrf_from(hana.get("/account").text)
    hana.client.post("/account", data={"current_password": password, "new_password": STRONG,
                                       "new_password_again": STRONG, "csrf_token": token})  # fmt: skip
    assert "Hillside Clinic" in hana.get("/admin/users").text
    assert hana.get("/admin/users?clinic=1").status_code == 404  # Northside's people are not hers
    assert hana.get("/admin/clinics").status_code == 403
    assert web("admin").get("/admin/users?clinic=3").status_code == 404


def test_lanes_name_staff_roles_only():
    for lane in ("Installation administrator", "integration", "Business analyst"):
        try:
            lane_roles(lane)
        except ValueError as exc:
            assert "is not a known staff role" in str(exc)
        else:
            raise AssertionError(f"lane {lane} was accepted")


def test_a_password_hashed_with_older_parameters_is_rehashed_at_login(web, demo, session_factory):
    from argon2 import PasswordHasher

    with unit_of_work(session_factory) as s:
        user = s.scalar(select(User).where(User.username == "billing"))
        user.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash("demo")
        old = user.password_hash
    assert web().login("billing", "demo").status_code == 302
    with unit_of_work(session_factory, read_only=True) as s:
        new = s.scalar(select(User.password_hash).where(User.username == "billing"))
    assert new != old and "t=1" not in new.split("$")[3]
