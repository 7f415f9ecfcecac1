"""A person's notifications (the bell) and their mail preferences (My account)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.accounts.users import Actor
from engine.errors import Invalid
from engine.models import Notification, NotificationPreference, utcnow
from engine.vocabulary import DEFAULT_DELIVERY, Delivery, NotificationKind

SHOWN = 50


def _mine(actor: Actor) -> list:
    """The person's notifications of the clinic they work in now (links name that clinic's invoices)."""
    return [Notification.user_id == actor.user_id, Notification.clinic_id == actor.clinic_id]


def latest(session: Session, actor: Actor, limit: int = SHOWN) -> list[Notification]:
    """The person's latest notifications, unread and read, newest first."""
    query = select(Notification).where(*_mine(actor))
    return list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))


def mark_read(session: Session, actor: Actor, notification_id: int | None = None) -> int:
    """Mark one notification (or, without an id, all) of the person as read; returns how many changed."""
    query = update(Notification).where(*_mine(actor), Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return session.execute(query.values(read_at=utcnow())).rowcount or 0


@dataclass(frozen=True)
class Preference:
    kind: NotificationKind
    delivery: Delivery


def preferences(session: Session, actor: Actor) -> list[Preference]:
    chosen = dict(
        session.execute(
            select(NotificationPreference.kind, NotificationPreference.delivery).where(
                NotificationPreference.user_id == actor.user_id
            )
        ).all()
    )
    return [Preference(kind, Delivery(chosen.get(kind, DEFAULT_DELIVERY[kind]))) for kind in NotificationKind]


def set_preferences(session: Session, actor: Actor, wanted: dict[str, str]) -> str:
    """Each kind's choice (immediately, digest, off); an unknown kind or choice is refused, naming it."""
    errors = {}
    for kind, delivery in wanted.items():
        if kind not in set(NotificationKind):
            errors[kind] = f"There is no notification kind '{kind}': the kinds are {', '.join(NotificationKind)}."
        elif delivery not in set(Delivery):
            errors[kind] = (
                f"'{delivery}' is not a choice for {NotificationKind(kind).label}: use one of {', '.join(Delivery)}."
            )
    if errors:
        raise Invalid(errors)
    stored = {
        p.kind: p
        for p in session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == actor.user_id))
    }
    for kind, delivery in wanted.items():
        if kind in stored:
            stored[kind].delivery = delivery
        else:
            session.add(NotificationPreference(user_id=actor.user_id, kind=kind, delivery=delivery))
    return "Notification preferences saved."
