"""A clinic's webhook: where its events are POSTed, the Standard Webhooks signing secret, and the deliveries a
clinic administrator watches, redelivers or skips (Administration > Integrations, /api/clinic/webhook).

Destinations are limited to the installation's WEBHOOK_ALLOWED_HOSTS (comma-separated host names; empty allows
none), so that a clinic cannot make the server call into its own network.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.errors import Conflict, Invalid, NotFound
from engine.models import AuditEvent, Clinic, WebhookDelivery, utcnow
from engine.vocabulary import AuditAction, DeliveryStatus

from .outbox import RETRY_FOR

OLD_SECRET_VALID = timedelta(hours=24)
STATUSES = frozenset(DeliveryStatus)
PAGE = 50


def allowed_hosts() -> set[str]:
    return {h.strip().lower() for h in os.environ.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()}


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url.strip():
        raise Invalid({"url": "Give the URL where the clinic's system receives events (https://…)."})
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid({"url": f"{url!r} is not an http(s) URL: give one such as https://billing.example/events."})
    if parts.username or parts.password:
        raise Invalid({"url": "Leave user names and passwords out of the URL: each delivery is signed instead."})
    if len(url) > 2000:
        raise Invalid({"url": "The URL is longer than 2,000 characters."})
    if parts.hostname.lower() not in allowed_hosts():
        raise Invalid(
            {
                "url": f"Events may not be sent to {parts.hostname}: ask the installation's administrator to add it to "
                "WEBHOOK_ALLOWED_HOSTS."
            }
        )
    return url


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class WebhookSettings:
    url: str | None
    has_secret: bool
    old_secret_until: datetime | None
    counts: dict[str, int]


def _clinic(session: Session, actor: Actor) -> Clinic:
    require(actor, Permission.MANAGE_INTEGRATIONS)
    return session.scalar(select(Clinic).where(Clinic.id == actor.clinic_id).with_for_update())


def _audit(session: Session, actor: Actor, action: AuditAction, **details) -> None:
    session.add(
        AuditEvent(clinic_id=actor.clinic_id, actor_id=actor.user_id, action=action, details=json.dumps(details))
    )


def settings(session: Session, actor: Actor) -> WebhookSettings:
    require(actor, Permission.MANAGE_INTEGRATIONS)
    clinic = session.get(Clinic, actor.clinic_id)
    counts = dict(
        session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.clinic_id == actor.clinic_id)
            .group_by(WebhookDelivery.status)
        ).all()
    )
    until = clinic.webhook_old_secret_until
    return WebhookSettings(
        clinic.webhook_url,
        bool(clinic.webhook_secret),
        until if until is not None and until > utcnow() else None,
        {s.value: counts.get(s.value, 0) for s in DeliveryStatus},
    )


def set_webhook(session: Session, actor: Actor, url: object) -> tuple[str, str | None]:
    """Set (or change) the URL. The first time, a signing secret is made and returned: it is shown once."""
    require(actor, Permission.MANAGE_INTEGRATIONS)
    url = check_url(url)
    clinic = _clinic(session, actor)
    secret = None
    if not clinic.webhook_secret:
        secret = clinic.webhook_secret = new_secret()
    if clinic.webhook_url == url and secret is None:
        return "Nothing changed.", None
    clinic.webhook_url = url
    _audit(session, actor, AuditAction.WEBHOOK_SET, url=url)
    return f"Events now go to {url}.", secret


def rotate_secret(session: Session, actor: Actor) -> tuple[str, str]:
    """A new signing secret, returned once; the old one keeps signing beside it for 24 hours."""
    clinic = _clinic(session, actor)
    if not clinic.webhook_url:
        raise Conflict("Set the webhook URL first: its signing secret is made then.")
    clinic.webhook_old_secret, clinic.webhook_secret = clinic.webhook_secret, new_secret()
    clinic.webhook_old_secret_until = utcnow() + OLD_SECRET_VALID
    _audit(session, actor, AuditAction.WEBHOOK_SECRET_ROTATED)
    return "New signing secret made: deliveries carry both signatures for 24 hours.", clinic.webhook_secret


def remove_webhook(session: Session, actor: Actor) -> str:
    clinic = _clinic(session, actor)
    if not clinic.webhook_url:
        return "No webhook is set."
    clinic.webhook_url = None
    clinic.webhook_secret = clinic.webhook_old_secret = clinic.webhook_old_secret_until = None
    skipped = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.clinic_id == clinic.id, WebhookDelivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, last_response="webhook removed")
    ).rowcount
    _audit(session, actor, AuditAction.WEBHOOK_REMOVED, skipped=skipped)
    return f"Webhook removed; {skipped} pending deliveries skipped. The event feed keeps every event."


def deliveries(session: Session, actor: Actor, status: str | None = None, page: int = 1) -> list[WebhookDelivery]:
    require(actor, Permission.MANAGE_INTEGRATIONS)
    query = select(WebhookDelivery).where(WebhookDelivery.clinic_id == actor.clinic_id)
    if status:
        if status not in set(DeliveryStatus):
            raise Invalid({"status": f"status must be one of {', '.join(DeliveryStatus)}."})
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.id.desc()).offset((max(page, 1) - 1) * PAGE).limit(PAGE)
    return list(session.scalars(query))


def _delivery(session: Session, actor: Actor, delivery_id: int) -> WebhookDelivery:
    require(actor, Permission.MANAGE_INTEGRATIONS)
    found = session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.clinic_id == actor.clinic_id)
        .with_for_update()
    )
    if found is None:
        raise NotFound(f"Delivery {delivery_id} was not found in {actor.clinic_name}.")
    return found


def redeliver(session: Session, actor: Actor, delivery_id: int) -> str:
    """Send the event again, now, and retry it for another 24 hours (same event id)."""
    delivery = _delivery(session, actor, delivery_id)
    if delivery.status == DeliveryStatus.PENDING:
        raise Conflict("This delivery is already waiting for its next attempt.")
    now = utcnow()
    delivery.status, delivery.next_attempt_at, delivery.give_up_at = DeliveryStatus.PENDING, now, now + RETRY_FOR
    _audit(session, actor, AuditAction.WEBHOOK_REDELIVERED, delivery=delivery.id, event=delivery.event.event_id)
    return f"Delivery {delivery.id} is sent again."


def skip(session: Session, actor: Actor, delivery_id: int) -> str:
    """Give up on a delivery: the invoice's later events are no longer held back by it."""
    delivery = _delivery(session, actor, delivery_id)
    if delivery.status not in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        raise Conflict(f"This delivery is {delivery.status}: only a pending or failed one can be skipped.")
    delivery.status = DeliveryStatus.SKIPPED
    _audit(session, actor, AuditAction.WEBHOOK_SKIPPED, delivery=delivery.id, event=delivery.event.event_id)
    return f"Delivery {delivery.id} skipped: the invoice's later events go out."
