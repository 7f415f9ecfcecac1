"""An action's history rows (audit_events of its transitions), written together.

`ActionContext.audit` records a row here; all the rows an action recorded since its last flush go to the database
in one INSERT (an executemany) just before its next flush, or before its commit. Added as ORM objects they would
be one INSERT each, the ORM fetching every new id, which nothing in the action reads back. Every row names an
instance (and invoice) that already exists, so it may be written at any flush. A rollback forgets the rows not
yet written: to a savepoint, those recorded since it began (beginning one flushes, and so writes, the rest).
"""

from __future__ import annotations

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from engine.models import AuditEvent

_ROWS = "history_rows"
_INSERT = insert(AuditEvent.__table__)


def record(session: Session, row: dict) -> None:
    session.info.setdefault(_ROWS, []).append(row)


def write(session: Session) -> None:
    """The recorded rows, now (also called by readers that need them in the database before their query)."""
    rows = session.info.pop(_ROWS, None)
    if rows:
        session.connection().execute(_INSERT, rows)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _objects) -> None:
    write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write(session)


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous_transaction) -> None:
    session.info.pop(_ROWS, None)
