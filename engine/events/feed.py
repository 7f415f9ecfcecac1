"""The pull feed: a clinic's events after a cursor, for systems that poll (GET /api/events).

The cursor is the position of the last event a system has seen (0, or none, for the start). Positions are
handed out in commit order (events.outbox), so reading `position > cursor` in order never skips an event that
commits later: resuming from the last position seen returns every event exactly once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.accounts.permissions import Permission, require
from engine.accounts.users import Actor
from engine.errors import Invalid
from engine.models import Event

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class FeedPage:
    events: list[dict]  # {"position": n, "event": <the CloudEvent>}
    cursor: str  # where to resume: the last position returned (or the one asked for)


def parse_cursor(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # '²¹' is a digit to isdigit, not to int
        raise Invalid({"after": f"after {raw!r} is not a cursor: send the cursor of the last page (a number), or 0."})
    return int(raw)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise Invalid({"limit": f"limit {raw!r} is not a number from 1 to {MAX_LIMIT}."})
    return int(raw)


def events_after(session: Session, actor: Actor, after: str | None, limit: str | None = None) -> FeedPage:
    require(actor, Permission.READ_EVENTS)
    cursor, size = parse_cursor(after), parse_limit(limit)
    rows = session.execute(
        select(Event.position, Event.body)
        .where(Event.clinic_id == actor.clinic_id, Event.position > cursor)
        .order_by(Event.position)
        .limit(size)
    ).all()
    events = [{"position": position, "event": json.loads(body)} for position, body in rows]
    return FeedPage(events, str(rows[-1].position if rows else cursor))
