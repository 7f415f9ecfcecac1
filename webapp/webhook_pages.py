"""Home > Administration > Integrations, its webhook part: set the URL (the signing secret is shown once),
rotate the secret, remove the webhook, and Redeliver or Skip a delivery. The rules are engine.events.webhooks."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for

from engine.accounts.permissions import Permission
from engine.errors import Invalid
from engine.events import webhooks

from .administration import integrations_page
from .auth import permission_required
from .plumbing import actor, uow

bp = Blueprint("webhooks", __name__, url_prefix="/admin/integrations")


def _back():
    return redirect(url_for("administration.integrations") + "#webhook-title")


@bp.post("/webhook")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def set_webhook():
    url = request.form.get("url", "")
    try:
        with uow() as session:
            message, secret = webhooks.set_webhook(session, actor(), url)
    except Invalid as exc:
        return integrations_page(webhook_errors=exc.errors, values={"url": url}), 422
    flash(message, "success")
    if secret is None:
        return _back()
    return integrations_page(handed_secret=secret)


@bp.post("/webhook/secret")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def rotate_secret():
    with uow() as session:
        message, secret = webhooks.rotate_secret(session, actor())
    flash(message, "success")
    return integrations_page(handed_secret=secret)


@bp.post("/webhook/remove")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def remove_webhook():
    with uow() as session:
        flash(webhooks.remove_webhook(session, actor()), "success")
    return _back()


@bp.post("/deliveries/<id:delivery_id>/redeliver")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def redeliver(delivery_id: int):
    with uow() as session:
        flash(webhooks.redeliver(session, actor(), delivery_id), "success")
    return _back()


@bp.post("/deliveries/<id:delivery_id>/skip")
@permission_required(Permission.MANAGE_INTEGRATIONS)
def skip(delivery_id: int):
    with uow() as session:
        flash(webhooks.skip(session, actor(), delivery_id), "success")
    return _back()
