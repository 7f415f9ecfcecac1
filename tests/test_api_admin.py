"""Issue 10: the JSON API for administration, with the same rules, errors and idempotency as the pages."""

from __future__ import annotations

from helpers import assert_error
from sqlalchemy import func, select

from engine.db import unit_of_work
from engine.models import User

SETTINGS = {"cancellation_workflow": "approval", "timezone": "America/New_York", "locale": "en_US", "currency": "USD"}


def test_clinic_settings_through_the_api(api, demo, db_snapshot):
    admin, approver = api("admin"), api("approver")
    got = admin.get("/api/clinic/settings")
    assert got.status_code == 200 and got.json["name"] == "Northside Clinic"
    before = db_snapshot()
    bad = admin.put("/api/clinic/settings", SETTINGS | {"timezone": "Mars/Base"})
    assert_error(bad, 422, "invalid")
    assert "IANA" in bad.json["error"]["fields"]["timezone"]
    assert_error(approver.put("/api/clinic/settings", SETTINGS), 403, "forbidden")
    assert db_snapshot() == before
    changed = admin.put("/api/clinic/settings", SETTINGS | {"cancellation_workflow": "direct", "locale": "en-GB"})
    assert changed.status_code == 200 and changed.json["cancellation_workflow"] == "direct"
    assert changed.json["locale"] == "en_GB"


def test_users_through_the_api(api, demo, session_factory, db_snapshot):
    admin, billing = api("admin"), api("billing")
    new = {"username": "m.tanaka", "full_name": "Maria Tanaka", "email": "maria@northside.example",
           "roles": ["approver"]}  # fmt: skip
    key = {"Idempotency-Key": "add-maria"}
    added = admin.post("/api/clinic/users", new, headers=key)
    assert added.status_code == 201 and added.json["roles"] == ["approver"] and added.json["one_time_password"]
    again = admin.post("/api/clinic/users", new, headers=key)
    assert again.json == added.json | {"one_time_password": None}  # the secret is shown once, never stored
    assert again.headers["Idempotent-Replayed"] == "true"
    with unit_of_work(session_factory, read_only=True) as s:
        assert s.scalar(select(func.count(User.id)).where(User.username == "m.tanaka")) == 1
    duplicate = admin.post("/api/clinic/users", new | {"username": "M.Tanaka"})
    assert_error(duplicate, 422, "invalid")
    assert "is taken" in duplicate.json["error"]["fields"]["username"]

    maria = added.json["id"]
    changed = admin.patch(f"/api/clinic/users/{maria}", {"roles": ["approver", "billing_staff"]})
    assert changed.status_code == 200 and changed.json["roles"] == ["billing_staff", "approver"]
    off = admin.patch(f"/api/clinic/users/{maria}", {"active": False})
    assert off.status_code == 200 and off.json["active"] is False
    listing = admin.get("/api/clinic/users").json
    assert {u["username"] for u in listing["items"]} >= {"admin", "billing", "m.tanaka"}
    reset = admin.post(f"/api/clinic/users/{maria}/password")
    assert reset.status_code == 200 and reset.json["one_time_password"]

    before = db_snapshot()
    me = next(u["id"] for u in listing["items"] if u["username"] == "admin")
    assert_error(admin.patch(f"/api/clinic/users/{me}", {"active": False}), 422, "invalid", "deactivate yourself")
    assert_error(admin.patch(f"/api/clinic/users/{me}", {"roles": []}), 422, "invalid")
    assert_error(admin.patch(f"/api/clinic/users/{maria}", {"active": "no"}), 422, "invalid")
    assert_error(billing.get("/api/clinic/users"), 403, "forbidden")
    assert db_snapshot() == before


def test_api_keys_through_the_api(api, demo, app):
    admin = api("admin")
    created = admin.post("/api/clinic/api-keys", {"name": "Billing system", "expires_on": "2099-12-31"})
    assert created.status_code == 201 and created.json["key"].startswith("ck_")
    assert created.json["status"] == "active" and created.json["expires_at"].startswith("2100-01-01")
    client = app.test_client()
    used = client.get("/api/clinic", headers={"Authorization": f"Bearer {created.json['key']}"})
    assert used.status_code == 200
    listed = admin.get("/api/clinic/api-keys").json["items"]
    assert [k["name"] for k in listed] == ["Billing system"] and "key" not in listed[0]
    assert admin.delete(f"/api/clinic/api-keys/{created.json['id']}").json["status"] == "revoked"
    assert client.get("/api/clinic", headers={"Authorization": f"Bearer {created.json['key']}"}).status_code == 401


def test_clinics_through_the_api_and_clinics_kept_apart(api, demo):
    root = api("root")
    assert {c["name"] for c in root.get("/api/clinics").json["items"]} == {"Northside Clinic", "Lakeside Clinic"}
    created = root.post(
        "/api/clinics",
        SETTINGS | {"name": "Hillside Clinic", "admin": {"username": "h.admin", "full_name": "Hana Hill",
                                                         "email": "hana@hillside.example"}},
    )  # fmt: skip
    assert created.status_code == 201 and created.json["admin_one_time_password"]
    renamed = root.patch(f"/api/clinics/{created.json['id']}", {"name": "Hillside Health"})
    assert renamed.status_code == 200 and renamed.json["name"] == "Hillside Health"
    assert_error(root.post("/api/clinics", SETTINGS | {"name": "x", "admin": "h"}), 422, "invalid")
    assert_error(api("admin").get("/api/clinics"), 403, "forbidden")
    hillside_users = root.get(f"/api/clinic/users?clinic={created.json['id']}").json["items"]
    hana = hillside_users[0]["id"]
    assert_error(api("admin").get(f"/api/clinic/users/{hana}"), 404, "not_found")
    assert_error(api("admin").patch(f"/api/clinic/users/{hana}", {"active": False}), 404, "not_found")


# Every administration call, each demo user: what they get (a missing or foreign id aside).
CALLS = [
    ("get", "/api/clinic/settings"),
    ("put", "/api/clinic/settings"),
    ("get", "/api/clinic/users"),
    ("post", "/api/clinic/users"),
    ("get", "/api/clinic/users/1"),
    ("patch", "/api/clinic/users/1"),
    ("get", "/api/clinic/api-keys"),
    ("post", "/api/clinic/api-keys"),
    ("get", "/api/clinics"),
    ("post", "/api/clinics"),
    ("patch", "/api/clinics/1"),
]
ADMIN_MAY = {"/api/clinic/settings", "/api/clinic/users", "/api/clinic/users/1", "/api/clinic/api-keys"}
ROOT_MAY = {"/api/clinics", "/api/clinics/1"}


def _expected(username: str, method: str, path: str) -> set[int]:
    may = (username == "admin" and path in ADMIN_MAY) or (username == "root" and path in ROOT_MAY)
    if username == "root" and path.startswith("/api/clinic/users"):
        return {404}  # the installation administrator names the clinic (?clinic=ID)
    if not may:
        return {403}
    return {200} if method == "get" else {200, 422}  # an empty body is refused field by field


def test_who_may_call_each_administration_endpoint(api, demo, db_snapshot):
    clients = {
        name: api(name) for name in ("billing", "approver", "supervisor", "admin", "lakeside", "analyst", "root")
    }
    before = db_snapshot()
    for name, client in clients.items():
        for method, path in CALLS:
            call = getattr(client, method)
            response = call(path) if method == "get" else call(path, {})
            assert response.status_code in _expected(name, method, path), (name, method, path, response.json)
    assert db_snapshot() == before


def test_a_clinic_administrator_reaches_nothing_of_another_clinic(api, demo, db_snapshot):
    root = api("root")
    lakeside_id = next(c["id"] for c in root.get("/api/clinics").json["items"] if c["name"] == "Lakeside Clinic")
    lee = next(
        u for u in root.get(f"/api/clinic/users?clinic={lakeside_id}").json["items"] if u["username"] == "lakeside"
    )
    made = root.patch(f"/api/clinic/users/{lee['id']}?clinic={lakeside_id}", {"roles": ["billing_staff", "admin"]})
    assert made.status_code == 200 and made.json["roles"] == ["billing_staff", "admin"]
    lakeside, northside = api("lakeside"), api("admin")
    key = lakeside.post("/api/clinic/api-keys", {"name": "Lakeside billing"}).json
    ada = next(u["id"] for u in northside.get("/api/clinic/users").json["items"] if u["username"] == "admin")
    before = db_snapshot()
    assert_error(northside.delete(f"/api/clinic/api-keys/{key['id']}"), 404, "not_found")
    assert [k["name"] for k in northside.get("/api/clinic/api-keys").json["items"]] == []
    assert_error(lakeside.get(f"/api/clinic/users/{ada}"), 404, "not_found")
    assert_error(lakeside.patch(f"/api/clinic/users/{ada}", {"active": False}), 404, "not_found")
    assert_error(lakeside.get(f"/api/clinic/users?clinic={lakeside_id + 100}"), 404, "not_found")
    assert lakeside.get("/api/clinic/settings").json["name"] == "Lakeside Clinic"
    assert db_snapshot() == before


def test_secrets_are_never_stored_for_a_replay(api, demo, session_factory):
    from engine.models import IdempotentResponse

    admin = api("admin")
    key = {"Idempotency-Key": "key-once"}
    created = admin.post("/api/clinic/api-keys", {"name": "Billing system"}, headers=key)
    replay = admin.post("/api/clinic/api-keys", {"name": "Billing system"}, headers=key)
    assert created.json["key"] and replay.json["key"] is None and replay.json["id"] == created.json["id"]
    assert created.headers["Cache-Control"] == "no-store"
    with unit_of_work(session_factory, read_only=True) as s:
        assert all(created.json["key"] not in r.body for r in s.scalars(select(IdempotentResponse)))
    too_late = admin.post("/api/clinic/api-keys", {"name": "X", "expires_on": "9999-12-31"})
    assert_error(too_late, 422, "invalid")
