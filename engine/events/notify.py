"""Telling people: a notification per person (the bell), and, by each person's choice for its kind, a mail now
(written to the outbox in the same transaction), in tomorrow's 08:00 digest, or none.

Mail subjects never carry a patient's name: they name the invoice number. Links are built from BASE_URL (the
address people open the app at, e.g. https://billing.clinic.example; default http://127.0.0.1:5000).
"""

from __future__ import annotations

import html
import os
import uuid
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from engine.models import MailMessage, Notification, NotificationPreference, RoleGrant, User
from engine.vocabulary import DEFAULT_DELIVERY, Delivery, NotificationKind

PRODUCT = "Clinic billing"


def base_url() -> str:
    return (os.environ.get("BASE_URL") or "http://127.0.0.1:5000").rstrip("/")


# Built once (every decision that starts waiting runs them).
_HOLDERS = (
    select(User)
    .join(RoleGrant, RoleGrant.user_id == User.id)
    .where(
        RoleGrant.clinic_id == bindparam("clinic_id"),
        RoleGrant.role.in_(bindparam("roles", expanding=True)),
        User.active.is_(True),
    )
    .distinct()
    .order_by(User.id)
)
_CHOSEN = select(NotificationPreference.user_id, NotificationPreference.delivery).where(
    NotificationPreference.user_id.in_(bindparam("user_ids", expanding=True)),
    NotificationPreference.kind == bindparam("kind"),
)


def people_with_roles(session: Session, clinic_id: int, roles: Iterable[str], excluded: Iterable[int] = ()) -> list:
    """The clinic's active people holding any of `roles`, but not those `excluded` (e.g. who took part already).

    People and roles never change within a transition of an instance: its pending changes are not flushed first
    (the instance is written once, at the commit)."""
    with session.no_autoflush:
        found = session.scalars(_HOLDERS, {"clinic_id": clinic_id, "roles": list(roles)}).all()
    excluded = set(excluded)
    return [u for u in found if u.id not in excluded]


def notify(
    session: Session,
    people: Iterable[User],
    kind: NotificationKind,
    clinic_id: int,
    subject: str,
    body: str,
    link: str,
    now: datetime,
    invoice_id: int | None = None,
) -> int:
    """One notification for each person; a mail now for those who chose Immediately (and have an address).
    Returns how many were told.

    The notifications go in as one INSERT (an executemany) at once, not as ORM objects: nothing in the action
    reads them back, and each would be an INSERT of its own at the flush."""
    people = [p for p in {p.id: p for p in people}.values() if p.active]  # who left is told nothing
    if not people:
        return 0
    with session.no_autoflush:  # preferences never change within a transition: nothing to flush first
        chosen = dict(session.execute(_CHOSEN, {"user_ids": [p.id for p in people], "kind": kind}).all())
    rows = []
    for person in people:
        delivery = chosen.get(person.id, DEFAULT_DELIVERY[kind])
        row = {
            "user_id": person.id,
            "clinic_id": clinic_id,
            "invoice_id": invoice_id,
            "kind": kind,
            "subject": subject[:200],
            "body": body,
            "link": link,
            "delivery": delivery,
            "created_at": now,
            "mailed_at": None,
        }
        if delivery == Delivery.IMMEDIATELY and person.email:
            row["mailed_at"] = now
            session.add(mail_for(person, [Notification(**row)], now))
        rows.append(row)
    session.connection().execute(_INSERT, rows)
    return len(rows)


_INSERT = Notification.__table__.insert()


def message_id() -> str:
    return f"<{uuid.uuid4()}@{urlsplit(base_url()).hostname or 'clinic-billing.invalid'}>"


def mail_for(person: User, notes: list[Notification], now: datetime, digest_day: str | None = None) -> MailMessage:
    """A mail of one notification, or a digest of several: a plain-text and an HTML part, links to the app."""
    root = base_url()
    if digest_day is None:
        subject = f"{notes[0].subject}"
    else:
        count = len(notes)
        subject = f"{PRODUCT}: {count} notification{'s' if count != 1 else ''} for {digest_day}"
    lines = [f"Hello {person.full_name},", ""]
    items = []
    for note in notes:
        lines += [note.subject, note.body, f"{root}{note.link}", ""]
        items.append(
            f"<li><p><strong>{html.escape(note.subject)}</strong></p><p>{html.escape(note.body)}</p>"
            f'<p><a href="{html.escape(root + note.link)}">Open in {PRODUCT}</a></p></li>'
        )
    settings = f"{root}/account#notifications"
    lines += [f"You receive this mail by your choices on My account: {settings}"]
    page = (
        f"<!doctype html><html><body><p>Hello {html.escape(person.full_name)},</p><ul>{''.join(items)}</ul>"
        f'<p>You receive this mail by your choices on <a href="{html.escape(settings)}">My account</a>.</p>'
        "</body></html>"
    )
    return MailMessage(
        user_id=person.id,
        to_address=person.email,
        subject=subject[:200],
        text_body="\n".join(lines),
        html_body=page,
        message_id=message_id(),
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
