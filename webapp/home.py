"""Home: what waits for each person (engine.reads.home), and the Financial Approval link's count on every page."""

from __future__ import annotations

from flask import Blueprint, Flask, g, render_template
from flask_login import current_user

from engine.accounts.permissions import Permission
from engine.reads import home as home_reads

from .auth import permission_required
from .plumbing import actor, uow

bp = Blueprint("home", __name__)


@bp.get("/home")
@permission_required(Permission.WORK_ON_INVOICES)
def home():
    with uow(read_only=True) as session:
        found = home_reads.home(session, actor())
    decide = [w.count for w in found.waiting if w.endpoint == "approvals.queue"]
    # The nav's count is Home's own (not counted again); explicit values win over the context processor's.
    return render_template("home.html", home=found, approvals_waiting=lambda: decide[0] if decide else 0)


def nav_counts() -> home_reads.NavCounts:
    """Every page's two counts (Financial Approval, the bell): one statement per request, when a page shows them."""
    if "nav_counts" not in g:
        if not current_user.is_authenticated:
            g.nav_counts = home_reads.NavCounts(0, 0)
        else:
            with uow(read_only=True) as session:
                g.nav_counts = home_reads.nav_counts(session, current_user.actor)
    return g.nav_counts


def init_app(app: Flask) -> None:
    @app.context_processor
    def counts():
        return {"approvals_waiting": lambda: nav_counts().approvals_waiting, "badge": home_reads.NavCounts.badge}
