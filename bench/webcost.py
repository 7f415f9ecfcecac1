"""The SQL one HTTP form submission costs, counted in this process through Flask's test client.

A form submission checks the logged-in user's session in the unit of work its action then joins (webapp/auth.py
load_user): one transaction, one commit.
"""

from __future__ import annotations

from webapp import create_app

from .lifecycle import Cost, SqlCounter
from .web import FlaskTransport, approve_step, approver_user, billing_user, cancel_step, lifecycle, request_step


def http_costs(database_url: str, billing: str, approver: str, numbers: list[str]) -> dict[str, Cost]:
    """Statements and commits of each form POST (the GET pages around it are not counted)."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "bench-only-secret"})
    engine = app.extensions["db_engine"]
    try:
        biller, decider = billing_user(FlaskTransport(app), billing), approver_user(FlaskTransport(app), approver)
        lifecycle(biller, decider, numbers[0])
        counter = SqlCounter(engine)
        costs: dict[str, Cost] = {}
        try:
            number = numbers[1]
            with counter.measure() as costs["request"]:
                request_step(biller, number)
            # Only the POST of the review form is counted: the queue and review pages are reads around it.
            original = decider.submit

            def counted_submit(path, values, kind=""):
                with counter.measure() as costs["approve"]:
                    original(path, values, kind)

            decider.submit = counted_submit
            approve_step(decider, number)
            with counter.measure() as costs["cancel"]:
                cancel_step(biller, number)
        finally:
            counter.close()
        return costs
    finally:
        engine.dispose()
