"""Issue 9, item 6: failed logins are throttled per username and address, in the database (every worker)."""

from __future__ import annotations

from datetime import timedelta

from helpers import assert_error, csrf_from
from sqlalchemy import select

from engine.db import unit_of_work
from engine.models import AuditEvent, LoginFailure
from webapp import create_app

HOME = {"REMOTE_ADDR": "10.0.0.5"}
ELSEWHERE = {"REMOTE_ADDR": "10.0.0.9"}


def _form_login(client, username: str, password: str, address=HOME):
    page = client.get("/login", environ_base=address)
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/login", data=data, environ_base=address)


def test_five_wrong_passwords_lock_that_username_from_that_address_only(app, demo, session_factory):
    client = app.test_client()
    for _ in range(5):
        assert _form_login(client, "admin", "wrong").status_code == 401
    locked = _form_login(client, "admin", "demo")  # even the right password waits
    assert locked.status_code == 429 and 55 <= int(locked.headers["Retry-After"]) <= 60
    assert "try again in 1 minute" in locked.text
    assert _form_login(app.test_client(), "admin", "demo", ELSEWHERE).status_code == 302  # not locked out everywhere
    assert _form_login(app.test_client(), "billing", "demo").status_code == 302  # nor other users from here
    with unit_of_work(session_factory) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("login_failed") == 5 and actions.count("login_locked") == 1


def test_unknown_and_known_usernames_get_the_same_answers(app, demo):
    client = app.test_client()
    for username in ("admin", "nobody-here"):
        answers = [_form_login(client, username, "wrong").status_code for _ in range(6)]
        assert answers == [401] * 5 + [429]


def test_a_success_resets_the_count(app, demo):
    client = app.test_client()
    for _ in range(4):
        _form_login(client, "approver", "wrong")
    assert _form_login(client, "approver", "demo").status_code == 302
    client = app.test_client()
    for _ in range(4):
        assert _form_login(client, "approver", "wrong").status_code == 401
    assert _form_login(client, "approver", "demo").status_code == 302


def _time_passes(session_factory, seconds: int) -> None:
    with unit_of_work(session_factory) as s:
        for row in s.scalars(select(LoginFailure)):
            row.at = row.at - timedelta(seconds=seconds)


def test_the_wait_doubles_with_each_further_failure_up_to_an_hour(app, demo, session_factory):
    client = app.test_client()
    for _ in range(5):
        _form_login(client, "admin", "wrong")
    waits = [int(_form_login(client, "admin", "wrong").headers["Retry-After"])]
    for _ in range(7):
        _time_passes(session_factory, waits[-1] + 1)  # the lock ran out; the attacker tries again at once
        assert _form_login(client, "admin", "wrong").status_code == 401
        waits.append(int(_form_login(client, "admin", "wrong").headers["Retry-After"]))
    assert [round(w, -1) for w in waits] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    _time_passes(session_factory, 3601 + 24 * 3600)  # a day later it is forgotten
    assert _form_login(client, "admin", "demo").status_code == 302


def test_mistakes_spread_over_a_day_lock_nothing(app, demo, session_factory):
    client = app.test_client()
    for _ in range(6):
        assert _form_login(client, "admin", "wrong").status_code == 401
        _time_passes(session_factory, 3600)
    assert _form_login(client, "admin", "demo").status_code == 302


def test_fifty_failures_from_one_address_lock_it_for_any_username(app, demo):
    client = app.test_client()
    for n in range(50):
        _form_login(client, f"guess{n}", "wrong")
    assert _form_login(client, "billing", "demo").status_code == 429
    assert _form_login(app.test_client(), "billing", "demo", ELSEWHERE).status_code == 302


def test_the_api_token_endpoint_is_throttled_too_and_across_workers(app, demo, database_url):
    other_worker = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-only-key"})
    try:
        for worker in (app, other_worker, app, other_worker, app):
            answer = worker.test_client().post(
                "/api/tokens", json={"username": "approver", "password": "wrong"}, environ_base=HOME
            )
            assert answer.status_code == 401
        locked = other_worker.test_client().post(
            "/api/tokens", json={"username": "approver", "password": "demo"}, environ_base=HOME
        )
        assert_error(locked, 429, "too_many_attempts", "try again in 1 minute")
        assert int(locked.headers["Retry-After"]) > 0
    finally:
        other_worker.extensions["db_engine"].dispose()


def _change_password(client, current: str, new: str = "a new Passw0rd for 2027"):
    page = client.get("/account", environ_base=HOME)
    data = {"current_password": current, "new_password": new, "new_password_again": new,
            "csrf_token": csrf_from(page.text)}  # fmt: skip
    return client.post("/account", data=data, environ_base=HOME)


def test_guessing_the_current_password_on_my_account_is_throttled_like_logins(app, demo, session_factory):
    """A session left open must not let anyone try passwords at will: five wrong current passwords make the
    address wait, the right one is not even checked then, and the password stays as it was."""
    client = app.test_client()
    assert _form_login(client, "billing", "demo").status_code == 302
    for _ in range(5):
        wrong = _change_password(client, "not-it")
        assert wrong.status_code == 422 and "Current password is not right" in wrong.text
    locked = _change_password(client, "demo")
    assert locked.status_code == 429 and 55 <= int(locked.headers["Retry-After"]) <= 60
    assert "try again in 1 minute" in locked.text
    assert _form_login(app.test_client(), "billing", "demo", ELSEWHERE).status_code == 302  # unchanged
    with unit_of_work(session_factory) as s:
        actions = [e.action for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("login_failed") == 5 and actions.count("login_locked") == 1
    assert "password_changed" not in actions
    _time_passes(session_factory, 61)
    assert _change_password(client, "demo").status_code == 302  # after the wait the right one works
