"""Idempotency keys: the first successful response to a state-changing call, replayed on a retry of the same call.

A key names one request: a retry with the same key must be the same method, path and body (compared by a
fingerprint of the canonical JSON), otherwise it is refused rather than silently answered with another result.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Invalid
from engine.models import IdempotentResponse


class IdempotencyKeyReused(Invalid):
    code = "idempotency_key_reused"


def fingerprint(body: Any) -> str:
    """SHA-256 of the body as canonical JSON (keys sorted, no spaces): the same data, the same fingerprint."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Shown once, never stored: a replay answers with these set to null.
SECRET_FIELDS = frozenset({"one_time_password", "admin_one_time_password", "key", "secret"})


def without_secrets(payload: dict) -> dict:
    """What is kept of a response to replay it: one-time passwords and API keys are left out."""
    return {k: (None if k in SECRET_FIELDS else v) for k, v in payload.items()}


def find(session: Session, user_id: int, key: str) -> IdempotentResponse | None:
    return session.scalar(
        select(IdempotentResponse).where(IdempotentResponse.user_id == user_id, IdempotentResponse.key == key)
    )


def check_same_request(found: IdempotentResponse, method: str, path: str, request_hash: str) -> None:
    """A stored response is replayed only for the request it answered (IdempotencyKeyReused otherwise)."""
    if (found.method, found.path) != (method, path):
        raise IdempotencyKeyReused(
            {"Idempotency-Key": "This Idempotency-Key was used for another request: use a new key."}
        )
    if found.request_hash is not None and found.request_hash != request_hash:
        raise IdempotencyKeyReused(
            {"Idempotency-Key": "This Idempotency-Key was used with a different body: use a new key for a new request."}
        )


def remember(
    session: Session, user_id: int, key: str, method: str, path: str, status: int, body: str, request_hash: str
) -> None:
    """Stored in the same transaction as the action, so a response is kept exactly when its effects are."""
    session.add(
        IdempotentResponse(
            user_id=user_id, key=key, method=method, path=path, status=status, body=body, request_hash=request_hash
        )
    )
    session.flush()
