"""Issue 13 (first part): Home shows each person what waits for them; the Financial Approval link carries the count."""

from __future__ import annotations

import re


def _waiting(html: str) -> dict[str, int]:
    return {
        label.strip(): int(n)
        for label, n in re.findall(r'<a href="[^"]*">([^<]+?) <span class="count">\((\d+)\)', html)
    }


def _nav_count(html: str) -> int:
    found = re.search(r'<span class="nav-count" id="approvals-waiting"[^>]*>(\d+)', html)
    return int(found.group(1)) if found else 0


def test_each_role_sees_what_waits_for_it(web, demo):
    numbers = demo.invoice_numbers("NS")
    for number in numbers[:3]:
        demo.request("billing", number, remarks="Billed twice")
    demo.decide("approver", numbers[0])  # approved: now waits for Cancel Invoice

    approver = web("approver")
    home = approver.get("/home").text
    assert _waiting(home)["Requests waiting for your decision"] == 2 and _nav_count(home) == 2
    assert _nav_count(approver.get("/billing/invoices").text) == 2  # on every page

    admin = web("admin")
    assert _waiting(admin.get("/home").text) == {
        "Requests waiting for your decision": 2,
        "Incidents": 0,
        "Requests no one may decide": 0,
    }

    billing = web("billing")
    page = billing.get("/home").text
    assert _waiting(page) == {"Approved — ready to Cancel Invoice": 1}
    assert 'href="/billing/invoices?approval=approved&amp;status=open"' in page
    mine = re.findall(r'<tr data-number="([^"]+)">.*?</tr>', page, re.S)
    assert sorted(mine) == sorted(numbers[:3])
    row = re.search(rf'<tr data-number="{numbers[1]}">.*?</tr>', page, re.S).group(0)
    assert "Requested" in row and "Review request (Approver, Clinic administrator)" in row
    assert _nav_count(page) == 0 and "Financial Approval" not in page  # billing staff do not decide

    demo.cancel("billing", numbers[0])
    assert _waiting(billing.get("/home").text) == {}  # nothing ready any more
    assert _waiting(approver.get("/home").text)["Requests waiting for your decision"] == 2


def test_a_page_whose_read_is_refused_still_shows_the_counts(web, demo):
    """A page's reads share one unit of work (issue 16); a read that fails ends it, and the error page reads the
    badges in a unit of its own."""
    demo.request("billing", demo.invoice_numbers("NS")[0])
    approver = web("approver")
    missing = approver.get("/billing/financial-approval/requests/999999")
    assert missing.status_code == 404 and _nav_count(missing.text) == 1
    assert _nav_count(approver.get("/home").text) == 1  # and the next page reads as before


def test_staff_land_on_home_and_others_where_they_work(web, demo):
    assert web("billing").client.get("/").headers["Location"].endswith("/home")
    assert web("analyst").client.get("/").headers["Location"].endswith("/admin/processes/")


def test_an_upgraded_database_counts_waiting_requests_as_the_engine_does(database_url, app, demo, session_factory):
    """Migration 0021 fills user_tasks.done_by for the steps waiting at the upgrade: who requested and who already
    approved may not decide them, exactly as for steps that became ready after it."""
    from alembic import command
    from sqlalchemy import select, update

    from engine.db import unit_of_work
    from engine.models import User, UserTask
    from engine.reads.home import decidable_count
    from engine.schema import alembic_config

    numbers = demo.invoice_numbers("NS")
    demo.set_amount(numbers[0], "2500.00")  # needs a second approval by a clinic administrator
    demo.request("billing", numbers[0])
    demo.request("supervisor", numbers[1])
    demo.decide("supervisor", numbers[0])  # now waits on Second approval

    def seen():
        with unit_of_work(session_factory, read_only=True) as s:
            rows = [
                (element_id, sorted(int(i) for i in done_by.split(",") if i))
                for element_id, done_by in s.execute(
                    select(UserTask.element_id, UserTask.done_by).where(UserTask.state == "ready").order_by(UserTask.id)
                )
            ]
            users = {u.username: u.id for u in s.scalars(select(User))}
            counts = {who: decidable_count(s, demo.actor(who)) for who in ("supervisor", "approver", "admin")}
            return rows, users, counts

    rows, users, counts = seen()
    assert [people for _element, people in rows] == [
        [users["supervisor"]],
        sorted([users["billing"], users["supervisor"]]),
    ]
    assert counts == {"supervisor": 0, "approver": 1, "admin": 2}
    with unit_of_work(session_factory) as s:  # as a database of 0020 has them: nobody recorded
        s.execute(update(UserTask).values(done_by=""))
    app.extensions["db_engine"].dispose()
    cfg = alembic_config(database_url)
    command.downgrade(cfg, "0020")
    command.upgrade(cfg, "head")
    assert seen() == (rows, users, counts)
