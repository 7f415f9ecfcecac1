"""The JSON API for events: the pull feed (GET /api/events, an Integration key or a clinic administrator) and
the clinic's webhook with its deliveries (clinic administrators). Routes of the `api` blueprint; the rules are
engine.events.feed and engine.events.webhooks.
"""

from __future__ import annotations

from flask import g, jsonify, request

from engine.events import feed, webhooks
from engine.reads.representations import iso

from .api import body, bp, idempotent
from .plumbing import small_int, uow


@bp.get("/events")
def events():
    with uow(read_only=True) as session:
        page = feed.events_after(session, g.actor, request.args.get("after"), request.args.get("limit"))
    return jsonify(events=page.events, cursor=page.cursor)


def _settings_json(found: webhooks.WebhookSettings) -> dict:
    return {
        "url": found.url,
        "has_secret": found.has_secret,
        "old_secret_valid_until": iso(found.old_secret_until),
        "deliveries": found.counts,
    }


def delivery_json(d) -> dict:
    return {
        "id": d.id,
        "event_id": d.event.event_id,
        "type": d.event.type,
        "position": d.event.position,
        "url": d.url,
        "status": d.status,
        "attempts": d.attempts,
        "created_at": iso(d.created_at),
        "next_attempt_at": iso(d.next_attempt_at) if d.status == "pending" else None,
        "last_attempt_at": iso(d.last_attempt_at),
        "last_response": d.last_response,
        "delivered_at": iso(d.delivered_at),
    }


@bp.get("/clinic/webhook")
def admin_webhook():
    with uow(read_only=True) as session:
        return jsonify(_settings_json(webhooks.settings(session, g.actor)))


@bp.put("/clinic/webhook")
def admin_set_webhook():
    url = body().get("url")

    def action(session, actor):
        message, secret = webhooks.set_webhook(session, actor, url)
        return _settings_json(webhooks.settings(session, actor)) | {"message": message, "secret": secret}, 200

    return idempotent(action)


@bp.post("/clinic/webhook/secret")
def admin_rotate_webhook_secret():
    def action(session, actor):
        message, secret = webhooks.rotate_secret(session, actor)
        return _settings_json(webhooks.settings(session, actor)) | {"message": message, "secret": secret}, 200

    return idempotent(action)


@bp.delete("/clinic/webhook")
def admin_remove_webhook():
    def action(session, actor):
        message = webhooks.remove_webhook(session, actor)
        return _settings_json(webhooks.settings(session, actor)) | {"message": message}, 200

    return idempotent(action)


@bp.get("/clinic/webhook/deliveries")
def admin_deliveries():
    page = small_int(request.args.get("page", "1")) or 1
    with uow(read_only=True) as session:
        found = webhooks.deliveries(session, g.actor, request.args.get("status") or None, page)
        return jsonify(items=[delivery_json(d) for d in found], page=page)


@bp.post("/clinic/webhook/deliveries/<id:delivery_id>/redeliver")
def admin_redeliver(delivery_id: int):
    def action(session, actor):
        message = webhooks.redeliver(session, actor, delivery_id)
        return {"message": message, "id": delivery_id, "status": "pending"}, 200

    return idempotent(action)


@bp.post("/clinic/webhook/deliveries/<id:delivery_id>/skip")
def admin_skip(delivery_id: int):
    def action(session, actor):
        message = webhooks.skip(session, actor, delivery_id)
        return {"message": message, "id": delivery_id, "status": "skipped"}, 200

    return idempotent(action)
