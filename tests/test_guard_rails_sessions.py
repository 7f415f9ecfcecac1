"""Issue 9, item 5: sessions end when they should (kept on the server), and the cookie is Secure over HTTPS."""

from __future__ import annotations

from datetime import timedelta

from helpers import csrf_from, task_url
from sqlalchemy import select

from engine.accounts import sessions
from engine.db import unit_of_work
from engine.models import ApiToken, CancellationRequest, User, WebSession
from webapp import create_app


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_saved_cookie_is_refused_after_logout(web, demo, session_factory, db_snapshot):
    billing = web("billing")
    saved = _cookie(billing.client)
    token = billing.token
    billing.post("/logout")
    replay = billing.client
    replay.set_cookie("session", saved)
    assert replay.get("/billing/invoices").status_code == 302  # to the login page
    number = demo.invoice_numbers("NS")[0]
    before = db_snapshot()
    attempt = replay.post(task_url(number, "request_cancellation"), data={"reason": "other", "remarks": "x",
                                                                          "csrf_token": token})  # fmt: skip
    assert attempt.status_code in (302, 400)
    assert db_snapshot() == before
    with unit_of_work(session_factory) as s:
        assert s.scalar(select(CancellationRequest)) is None


def _age(session_factory, **shift) -> None:
    with unit_of_work(session_factory) as s:
        for row in s.scalars(select(WebSession)):
            row.last_seen_at = row.last_seen_at - timedelta(**shift)
            row.created_at = row.created_at - timedelta(**shift)


def test_a_session_ends_after_30_minutes_idle(web, demo, session_factory):
    billing = web("billing")
    assert billing.get("/billing/invoices").status_code == 200
    _age(session_factory, minutes=29)
    assert billing.get("/billing/invoices").status_code == 200  # still live, and touched
    _age(session_factory, minutes=31)
    assert billing.get("/billing/invoices").status_code == 302
    with unit_of_work(session_factory) as s:
        assert s.scalar(select(WebSession.ended_at)) is not None


def test_a_session_ends_after_12_hours_however_busy(web, demo, session_factory):
    billing = web("billing")
    with unit_of_work(session_factory) as s:
        s.scalar(select(WebSession)).created_at -= timedelta(hours=12, minutes=1)
    assert billing.get("/billing/invoices").status_code == 302


def test_a_new_session_id_at_each_login(web, demo, session_factory):
    first = web("billing")
    second = web("billing")
    with unit_of_work(session_factory) as s:
        ids = s.scalars(select(WebSession.id)).all()
    assert len(set(ids)) == 2 and _cookie(first.client) != _cookie(second.client)


def test_ending_all_of_a_users_sessions_and_tokens_at_once(web, api, demo, session_factory):
    browser = web("billing")
    client = api("billing")
    with unit_of_work(session_factory) as s:
        user_id = s.scalar(select(User.id).where(User.username == "billing"))
        sessions.end_all_of(s, user_id)  # what a password change or deactivation does
    assert browser.get("/billing/invoices").status_code == 302
    assert client.get("/api/invoices").status_code == 401
    with unit_of_work(session_factory) as s:
        assert all(t.revoked_at is not None for t in s.scalars(select(ApiToken)))


def test_the_cookie_is_secure_when_the_request_came_over_https(database_url, demo):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-only-key", "TRUSTED_PROXIES": 1}
    )
    try:
        for proto, secure in (("https", True), ("http", False)):
            client = app.test_client()
            headers = {
                "X-Forwarded-Proto": proto,
                "X-Forwarded-For": "203.0.113.7",
                "Referer": f"{proto}://localhost/login",
            }
            page = client.get("/login", headers=headers)
            answer = client.post(
                "/login",
                data={"username": "billing", "password": "demo", "csrf_token": csrf_from(page.text)},
                headers=headers,
            )
            assert answer.status_code == 302
            cookie = answer.headers["Set-Cookie"]
            assert ("; Secure" in cookie) is secure, cookie
    finally:
        app.extensions["db_engine"].dispose()
