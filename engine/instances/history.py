"""An action's history rows (audit_events of its transitions), written together.

`ActionContext.audit` records a row here; all the rows an action recorded since its last flush go to the database
in one INSERT (an executemany) just before its next flush, or before its commit. Added as ORM objects they would
be one INSERT each, the ORM fetching every new id, which nothing in the action reads back. Every row names an
instance (and invoice) that already exists, so it may be written at any flush.

Savepoints (a timer fires in one of its own): rows recorded inside one are written inside it (at its flushes and
its release) and forgotten if it rolls back; rows recorded before it began wait for the enclosing transaction.
"""

from __future__ import annotations

import weakref

from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

from engine.models import AuditEvent

_ROWS = "history_rows"
_MARKS = "history_savepoints"  # a savepoint's transaction -> how many rows were pending when it began (weakly held)
_INSERT = insert(AuditEvent.__table__)


def record(session: Session, row: dict) -> None:
    session.info.setdefault(_ROWS, []).append(row)


def write(session: Session) -> None:
    """The rows recorded at the current level (the whole transaction, or the innermost savepoint), now."""
    rows = session.info.get(_ROWS)
    if not rows:
        return
    start = _mark(session)
    now, rows[start:] = rows[start:], []
    if now:
        session.connection().execute(_INSERT, now)


def _mark(session: Session) -> int:
    if not session.in_nested_transaction():
        return 0
    return session.info.get(_MARKS, {}).get(session.get_nested_transaction(), 0)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _objects) -> None:
    write(session)


@event.listens_for(Session, "before_commit")  # also when a savepoint is released
def _before_commit(session: Session) -> None:
    write(session)


@event.listens_for(Session, "after_transaction_create")
def _savepoint_began(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_MARKS, weakref.WeakKeyDictionary())
        marks[transaction] = len(session.info.get(_ROWS, []))


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: SessionTransaction) -> None:
    """A rollback forgets the rows not yet written: to a savepoint, those recorded since it began."""
    if previous.nested:
        mark = session.info.get(_MARKS, {}).pop(previous, 0)
        del session.info.get(_ROWS, [])[mark:]
    else:
        session.info.pop(_ROWS, None)
        session.info.pop(_MARKS, None)
