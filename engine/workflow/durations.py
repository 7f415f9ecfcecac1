"""ISO 8601 durations and times as the diagrams' timers use them (SpiffWorkflow's own parser), checked and told
in words: "P1D" -> one day from a start; "-P1D", "P0D" or "tomorrow" are refused with a message naming them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

_UNITS = (
    ("years", "year"),
    ("months", "month"),
    ("weeks", "week"),
    ("days", "day"),
    ("hours", "h"),
    ("minutes", "min"),
    ("seconds", "s"),
)


class BadDuration(ValueError):
    """Not a duration a timer can wait: the message says what was given and what is expected."""


def parse_duration(text: object, what: str = "the duration") -> dict:
    """SpiffWorkflow's parse of an ISO 8601 duration such as P1D or PT4H, refused unless longer than zero."""
    if not isinstance(text, str) or not text.strip():
        raise BadDuration(f"{what} must be an ISO 8601 duration such as P1D (one day) or PT4H (four hours)")
    value = text.strip().upper()
    if value.startswith("-"):
        raise BadDuration(f"{what} '{text}' is negative: a timer can only wait forwards, e.g. P1D (one day)")
    if not value.startswith("P"):
        raise BadDuration(
            f"{what} '{text}' is not an ISO 8601 duration: write it as P1D (one day), PT4H (four hours) or P1DT12H"
        )
    try:
        parsed = TimerEventDefinition.parse_iso_duration(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow raises a bare Exception('Invalid duration')
        raise BadDuration(
            f"{what} '{text}' is not an ISO 8601 duration: write it as P1D (one day), PT4H (four hours) or P1DT12H"
        ) from None
    if not any(parsed.values()):
        raise BadDuration(f"{what} '{text}' is zero: a timer must wait longer than that")
    return parsed


def due_after(text: str, start: datetime, what: str = "the duration") -> datetime:
    """When a timer of `text` started at `start` is due (months and years by the calendar, as SpiffWorkflow)."""
    return start + TimerEventDefinition.get_timedelta_from_start(parse_duration(text, what), start)


def due_at(value: object, start: datetime, what: str = "the timer") -> datetime:
    """A timer expression's value: a duration from `start`, or a date and time (ISO 8601, UTC unless it says)."""
    if isinstance(value, str) and value.strip().upper().lstrip("-").startswith("P"):
        return due_after(value, start, what)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise BadDuration(
            f"{what} gave {value!r}, which is not an ISO 8601 duration such as P1D nor a date and time such as "
            "2026-12-24T08:00:00+00:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def in_words(text: str | None) -> str:
    """'P3D' -> '3 days', 'PT4H30M' -> '4 h 30 min', anything else as given."""
    try:
        parsed = parse_duration(text)
    except BadDuration:
        return str(text or "")
    words = []
    for key, unit in _UNITS:
        amount = parsed.get(key)
        if not amount:
            continue
        amount = int(amount) if float(amount).is_integer() else amount
        plural = unit in ("year", "month", "week", "day") and amount != 1
        words.append(f"{amount} {unit}{'s' if plural else ''}")
    return " ".join(words)


def in_words_delta(delta: timedelta) -> str:
    """A waiting time: '2 days 3 h', '3 h 20 min', '5 min', 'less than a minute'."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "less than a minute"
