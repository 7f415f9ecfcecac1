"""Failed logins are throttled across every worker and host: the state is rows in the database.

After 5 failures for one username from one client address within 15 minutes, or 50 from one address for any
usernames, that address waits before trying again: 1 minute, doubling with each further failure, up to an
hour. The lock is per username and address (and per address), so nobody can lock the clinic's administrator
out from everywhere. A successful login clears the failures of that username from that address. Failed
logins and lockouts are audited.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.errors import TooManyAttempts
from engine.models import AuditEvent, LoginFailure, utcnow
from engine.vocabulary import AuditAction

from .users import Actor, actor_for, authenticate, find_user

WINDOW = timedelta(minutes=15)
REMEMBERED = timedelta(hours=24)  # failures older than this no longer lengthen a lock
PER_USERNAME = 5
PER_ADDRESS = 50
FIRST_WAIT = 60  # seconds
LONGEST_WAIT = 3600


def _key(username: str) -> str:
    return (username or "").strip().lower()[:80]


def _wait(failures: int, threshold: int) -> int:
    return min(FIRST_WAIT * 2 ** max(failures - threshold, 0), LONGEST_WAIT)


def _lock_until(session: Session, conditions: list, threshold: int, now: datetime) -> datetime | None:
    """When the lock of these failures ends, or None when they lock nothing.

    A lock starts at `threshold` failures within the window; it lasts FIRST_WAIT after the last failure,
    doubling with each failure beyond the threshold (up to LONGEST_WAIT) as long as they keep coming: a
    failure soon after the previous lock (within the window plus that lock) continues the streak.
    """
    times = list(
        session.scalars(
            select(LoginFailure.at)
            .where(*conditions, LoginFailure.at > now - REMEMBERED)
            .order_by(LoginFailure.at.desc())
            .limit(200)
        )
    )
    if len(times) < threshold:
        return None
    recent = sum(1 for at in times if at > now - WINDOW)
    continuing = len(times) > threshold and times[0] - times[1] <= WINDOW + timedelta(
        seconds=_wait(len(times) - 1, threshold)
    )
    if recent < threshold and not continuing:
        return None
    return times[0] + timedelta(seconds=_wait(len(times), threshold))


def retry_after(session: Session, username: str, address: str, now: datetime | None = None) -> int:
    """Seconds this address must wait before trying this username again (0: it may try now)."""
    now = now or utcnow()
    waits = []
    for conditions, threshold in (
        ([LoginFailure.username == _key(username), LoginFailure.address == address], PER_USERNAME),
        ([LoginFailure.address == address], PER_ADDRESS),
    ):
        until = _lock_until(session, conditions, threshold, now)
        if until is not None:
            waits.append(math.ceil((until - now).total_seconds()))
    return max([w for w in waits if w > 0], default=0)


def check(session: Session, username: str, address: str) -> None:
    """TooManyAttempts (429 with Retry-After) while this address must wait for this username."""
    seconds = retry_after(session, username, address)
    if seconds:
        raise TooManyAttempts(seconds)


def record_failure(session: Session, username: str, address: str) -> None:
    """One failed attempt, audited; a lockout it starts is audited too. The caller's unit of work commits it
    (the login answers 401 without raising, so the row is kept)."""
    now = utcnow()
    key = _key(username)
    session.add(LoginFailure(username=key, address=address, at=now))
    user = find_user(session, username)  # whatever its case, so the failure shows in that person's clinic log
    user_id = user.id if user is not None else None
    details = {"username": key, "address": address}
    session.add(AuditEvent(actor_id=user_id, action=AuditAction.LOGIN_FAILED, at=now, details=json.dumps(details)))
    session.flush()
    seconds = retry_after(session, username, address, now)
    if seconds:
        event = AuditEvent(
            actor_id=user_id,
            action=AuditAction.LOGIN_LOCKED,
            at=now,
            details=json.dumps(details | {"seconds": seconds}),
        )
        session.add(event)


def log_in(session: Session, username: str, password: str, address: str) -> Actor | None:
    """The Actor for these credentials, or None (a failure, recorded and audited: the caller's unit of work
    commits it, then answers 401). TooManyAttempts while the address must wait: the password is not checked."""
    check(session, username, address)
    user = authenticate(session, username or "", password or "")
    actor = actor_for(session, user.id) if user else None
    if actor is None:
        record_failure(session, username, address)
        return None
    record_success(session, username, address)
    user.last_login_at = utcnow()
    details = json.dumps({"user": user.username, "address": address})
    session.add(AuditEvent(actor_id=user.id, action=AuditAction.LOGGED_IN, at=user.last_login_at, details=details))
    return actor


def record_success(session: Session, username: str, address: str) -> None:
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == _key(username), LoginFailure.address == address)
    )
