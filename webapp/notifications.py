"""The bell: a person's notifications (mark as read) and, on My account, their mail preferences per kind."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from engine.errors import Invalid
from engine.usecases import notifications
from engine.vocabulary import Delivery, NotificationKind

from .home import nav_counts
from .plumbing import actor, small_int, uow

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@login_required
def index():
    with uow(read_only=True) as session:
        found = notifications.latest(session, actor())
    return render_template("notifications.html", notes=found)


@bp.post("/notifications/read")
@login_required
def mark_read():
    one = request.form.get("id")
    wanted = small_int(one) if one else None
    if one and wanted is None:
        abort(400)
    with uow() as session:
        changed = notifications.mark_read(session, actor(), wanted)
    if not one:
        flash(f"{changed} notification{'s' if changed != 1 else ''} marked as read.", "success")
    return redirect(url_for(".index"))


@bp.post("/account/notifications")
@login_required
def preferences():
    wanted = {key.removeprefix("pref_"): value for key, value in request.form.items() if key.startswith("pref_")}
    try:
        with uow() as session:
            message = notifications.set_preferences(session, actor(), wanted)
    except Invalid as exc:
        flash(f"Nothing was changed: {exc.message}", "error")
        return redirect(url_for("account.my_account") + "#notifications"), 303
    flash(message, "success")
    return redirect(url_for("account.my_account") + "#notifications")


def init_app(app: Flask) -> None:
    @app.context_processor
    def bell():
        def unread() -> int:
            return nav_counts().notifications_unread

        def my_preferences():
            with uow(read_only=True) as session:
                return notifications.preferences(session, current_user.actor)

        return {"notifications_unread": unread, "notification_preferences": my_preferences,
                "deliveries": list(Delivery), "notification_kinds": list(NotificationKind)}  # fmt: skip
