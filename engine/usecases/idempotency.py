"""Idempotency keys: the first successful response to a state-changing call, replayed on a retry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.models import IdempotentResponse


def find(session: Session, user_id: int, key: str) -> IdempotentResponse | None:
    return session.scalar(
        select(IdempotentResponse).where(IdempotentResponse.user_id == user_id, IdempotentResponse.key == key)
    )


def remember(session: Session, user_id: int, key: str, method: str, path: str, status: int, body: str) -> None:
    """Stored in the same transaction as the action, so a response is kept exactly when its effects are."""
    session.add(IdempotentResponse(user_id=user_id, key=key, method=method, path=path, status=status, body=body))
    session.flush()
