"""Column types and the declarative base every table shares."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    LargeBinary,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC on every database, returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times are stored in UTC and must carry a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class CompressedText(TypeDecorator):
    """Text stored zlib-compressed (a workflow's JSON state shrinks to about a sixth), read back as text.

    Text stored before compression (0026 compresses what it finds; an uncompressed value starts with "{") is read
    as it is."""

    impl = LargeBinary
    cache_ok = True
    LEVEL = 6

    def process_bind_param(self, value, dialect):
        return None if value is None else zlib.compress(value.encode(), self.LEVEL)

    def process_result_value(self, value, dialect):
        if value is None or isinstance(value, str):
            return value
        data = bytes(value)
        return (data if data[:1] == b"{" else zlib.decompress(data)).decode()


class Money(TypeDecorator):
    """An exact Decimal amount with two places, stored as integer minor units (never a float)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        cents = Decimal(value) * 100
        if cents != cents.to_integral_value():
            raise ValueError(f"amount {value} has more than two decimal places")
        return int(cents)

    def process_result_value(self, value, dialect):
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    pass
