"""Calendar days as a clinic writes them: the locale's short date (Babel, CLDR) with a four-digit year, shown on
pages and accepted in date fields, so what people read is what they type ("12/1/2026" in en_US, "01.12.2026" in
de_CH); ISO 8601 (2026-12-01) is accepted everywhere too (links, bookmarks, the API)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

DEFAULT_LOCALE = "en_US"


@lru_cache(maxsize=64)
def day_pattern(locale: str | None) -> str:
    """The locale's short date pattern with a four-digit year: en_US M/d/yyyy, de_CH dd.MM.yyyy."""
    try:
        pattern = Locale.parse(locale or DEFAULT_LOCALE).date_formats["short"].pattern
    except (UnknownLocaleError, ValueError, TypeError):
        pattern = Locale.parse(DEFAULT_LOCALE).date_formats["short"].pattern
    return re.sub(r"y+", "yyyy", pattern)


def day_hint(locale: str | None) -> str:
    """What to type, for a placeholder or a message: MM/DD/YYYY, DD.MM.YYYY."""
    return re.sub(r"M+", "MM", re.sub(r"d+", "DD", day_pattern(locale))).replace("yyyy", "YYYY")


def format_day(day: date | None, locale: str | None) -> str:
    if day is None:
        return ""
    return format_date(day, day_pattern(locale), locale=_known(locale))


def _known(locale: str | None) -> str:
    try:
        Locale.parse(locale or DEFAULT_LOCALE)
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT_LOCALE
    return locale or DEFAULT_LOCALE


@lru_cache(maxsize=64)
def _day_regex(locale: str | None) -> tuple[re.Pattern, tuple[str, ...]]:
    order, parts = [], []
    for token in re.findall(r"y+|M+|d+|[^yMd]+", day_pattern(locale)):
        if token[0] in "yMd":
            order.append(token[0])
            parts.append(r"(\d{4})" if token[0] == "y" else r"(\d{1,2})")
        else:
            parts.append(r"\s*" + re.escape(token.strip()) + r"\s*" if token.strip() else r"\s+")
    return re.compile("^" + "".join(parts) + "$"), tuple(order)


def parse_day(text: str, locale: str | None) -> date | None:
    """A day written in ISO 8601 or as the locale writes it; None when it is neither (or no such day)."""
    value = text.strip()
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    regex, order = _day_regex(locale)
    found = regex.match(value)
    if not found:
        return None
    numbers = dict(zip(order, (int(g) for g in found.groups()), strict=True))
    try:
        return date(numbers["y"], numbers["M"], numbers["d"])
    except (ValueError, KeyError):
        return None


_TIME = re.compile(r"^(?P<day>.+?)[\sT,]+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")


def moment_hint(locale: str | None) -> str:
    """What to type for a day and a time: MM/DD/YYYY HH:MM."""
    return f"{day_hint(locale)} HH:MM"


def parse_moment(text: str, locale: str | None) -> datetime | None:
    """A day and a time of day (24 h), as shown on pages ("12/24/2026 08:00") or in ISO 8601
    ("2026-12-24T08:00"); naive (the caller knows the zone); None when it is neither."""
    value = text.strip()
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        pass
    found = _TIME.match(value)
    day = parse_day(found.group("day"), locale) if found else None
    if day is None:
        return None
    try:
        return datetime.combine(day, time(int(found.group("hour")), int(found.group("minute"))))
    except ValueError:
        return None
