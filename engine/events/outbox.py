"""The transactional outbox: each change of a cancellation becomes an event in the same transaction as the
change, so an event exists exactly when the change committed (a rolled-back action leaves none).

Operations call `emit` while the action runs; just before the transaction commits, `_write_pending` numbers the
transaction's events with the clinic's next feed positions and writes them (with a webhook delivery each when
the clinic has a webhook). Taking positions updates the clinic's `event_feeds` row, which stays locked until the
commit: positions are therefore handed out in commit order, without gaps, and the pull feed (`position > cursor`)
never skips an event that commits later. The lock is taken as the last statement before the commit.

Events are CloudEvents 1.0 in JSON (structured mode), written with the `cloudevents` package.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from engine.models import CancellationRequest, Event, Invoice, User, WebhookDelivery
from engine.vocabulary import EventType

CONTENT_TYPE = "application/cloudevents+json"
RETRY_FOR = timedelta(hours=24)  # a delivery is retried with backoff this long, then marked Failed
_FORMAT = JSONFormat()
_PENDING = "outbox"
_MARKS = "outbox_savepoints"  # savepoint -> how many events were pending when it began


@dataclass
class _Pending:
    invoice: Invoice
    request: CancellationRequest | None
    type: EventType
    actor_id: int | None
    remarks: str | None
    at: datetime
    by: dict | None = None  # who acted, when the caller knows: {"username", "name"}


def emit(
    session: Session,
    invoice: Invoice,
    type_: EventType,
    actor_id: int | None,
    at: datetime,
    request: CancellationRequest | None = None,
    remarks: str | None = None,
    by: dict | None = None,
) -> None:
    """An event of this change goes out if, and when, the action's transaction commits. `by`: who acted
    ({"username", "name"}), when the caller knows it (else it is read by `actor_id`)."""
    session.info.setdefault(_PENDING, []).append(_Pending(invoice, request, type_, actor_id, remarks, at, by))


def source_of(clinic_id: int) -> str:
    return f"/clinics/{clinic_id}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _person(user: User | None) -> dict | None:
    return {"username": user.username, "name": user.full_name} if user is not None else None


def _data(session: Session, pending: _Pending) -> dict:
    invoice, request = pending.invoice, pending.request
    by = pending.by
    if by is None and pending.actor_id:
        by = _person(session.get(User, pending.actor_id))

    def who(user_id: int | None, relation: str) -> dict | None:  # the actor is known: no row to read for them
        if user_id is not None and user_id == pending.actor_id and by is not None:
            return by
        return _person(getattr(request, relation))

    return {
        "invoice": {
            "number": invoice.number,
            "patient_id": invoice.patient_id,
            "patient_name": invoice.patient_name,
            "invoice_date": invoice.invoice_date.isoformat(),
            "amount": str(invoice.amount),
            "currency": invoice.clinic.currency,
            "status": invoice.status,
            "approval_status": invoice.approval_status,
        },
        "request": None
        if request is None
        else {
            "id": request.id,
            "status": request.status,
            "reason": request.reason,
            "remarks": request.remarks,
            "requested_by": who(request.requested_by_id, "requested_by"),
            "requested_at": _iso(request.requested_at),
            "decided_by": who(request.decided_by_id, "decided_by"),
            "decided_at": _iso(request.decided_at),
            "decision_remarks": request.decision_remarks,
        },
        "by": by,
        "remarks": pending.remarks,
    }


def cloudevent_json(event_id: str, clinic_id: int, type_: EventType, subject: str, at: datetime, data: dict) -> str:
    attributes = {
        "id": event_id,
        "source": source_of(clinic_id),
        "type": type_.cloudevent_type,
        "specversion": "1.0",
        "subject": subject,
        "time": at,
        "datacontenttype": "application/json",
    }
    return _FORMAT.write(CloudEvent(attributes, data)).decode()


# Reserve positions of a clinic's feed in one statement: the clinic's first event creates its row, later ones
# move it on. Plain SQL that SQLite (3.35+) and PostgreSQL both speak: SQLAlchemy compiles a dialect's
# INSERT .. ON CONFLICT anew on every run (it has no cache key), which cost more than running it.
_NEXT_POSITIONS = text(
    "INSERT INTO event_feeds (clinic_id, last_position) VALUES (:clinic_id, :count) "
    "ON CONFLICT (clinic_id) DO UPDATE SET last_position = event_feeds.last_position + excluded.last_position "
    "RETURNING last_position"
)


def _next_positions(session: Session, clinic_id: int, count: int) -> int:
    """Reserve `count` positions of the clinic's feed; returns the first. Locks the clinic's feed row."""
    last = session.connection().execute(_NEXT_POSITIONS, {"clinic_id": clinic_id, "count": count}).scalar_one()
    return last - count + 1


@sa_event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint's events wait for the real commit (positions are taken, and locked, only then)
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if not pending:
        return
    session.flush()  # new requests get their ids
    by_clinic: dict[int, list[_Pending]] = {}
    for item in pending:
        by_clinic.setdefault(item.invoice.clinic_id, []).append(item)
    for clinic_id in sorted(by_clinic):
        items = by_clinic[clinic_id]
        webhook = items[0].invoice.clinic.webhook_url  # the invoice's clinic is loaded by the action
        data = [_data(session, item) for item in items]
        position = _next_positions(session, clinic_id, len(items))  # the last statements before the commit
        rows = []
        for offset, (item, payload) in enumerate(zip(items, data, strict=True)):
            event_id = str(uuid.uuid4())
            rows.append(
                {
                    "event_id": event_id,
                    "clinic_id": clinic_id,
                    "invoice_id": item.invoice.id,
                    "position": position + offset,
                    "type": item.type.cloudevent_type,
                    "time": item.at,
                    "body": cloudevent_json(event_id, clinic_id, item.type, item.invoice.number, item.at, payload),
                }
            )
        _insert_events(session, rows, webhook)


def _insert_events(session: Session, rows: list[dict], webhook: str | None) -> None:
    """The events as Core INSERTs after the action's last flush (no ORM objects: nothing reads them back); with
    a webhook, each event's id goes into its delivery row."""
    events, connection = Event.__table__, session.connection()
    if not webhook:
        connection.execute(events.insert(), rows)
        return
    deliveries = [
        {
            "event_id": connection.execute(events.insert().returning(events.c.id), row).scalar_one(),
            "clinic_id": row["clinic_id"],
            "invoice_id": row["invoice_id"],
            "url": webhook,
            "next_attempt_at": row["time"],
            "give_up_at": row["time"] + RETRY_FOR,
        }
        for row in rows
    ]
    connection.execute(WebhookDelivery.__table__.insert(), deliveries)


@sa_event.listens_for(Session, "after_rollback")
def _forget_pending(session: Session) -> None:
    """A rollback forgets its events: all of them, or, for a savepoint, those emitted since it began."""
    nested = session.get_nested_transaction() if session.in_nested_transaction() else None
    if nested is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)
        return
    mark = session.info.get(_MARKS, {}).pop(id(nested), 0)
    del session.info.get(_PENDING, [])[mark:]


@sa_event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[id(transaction)] = len(session.info.get(_PENDING, []))
