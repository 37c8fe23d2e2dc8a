"""Parsing and formatting of the date-times Siigo uses.

Siigo responses carry timestamps with 1 to 3 fraction digits, with or without a trailing
``Z`` (``2023-03-17T10:06:48.617``, ``2022-12-29T22:38:08.6``, ``2020-06-15T03:33:17.208Z``).
Values without a suffix are treated as UTC (the spec leaves the zone open). Query filters
take ``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm:ssZ``.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

__all__ = ["parse_timestamp", "format_filter", "format_timestamp"]


def parse_timestamp(value: str) -> datetime:
    """Parse a Siigo timestamp or date into an aware UTC ``datetime``.

    Raises ``ValueError`` for anything that is not an ISO-8601 date or date-time.
    """
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "T" in text and "." in text:
        # Python 3.11 accepts 1-6 fraction digits, but normalise to be safe.
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits += rest[0]
            rest = rest[1:]
        text = f"{head}.{(digits + '000000')[:6]}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_filter(value: datetime | date) -> str:
    """Format a filter value as ``yyyy-MM-ddTHH:mm:ssZ`` (UTC), or ``yyyy-MM-dd`` for dates.

    Naive datetimes are taken as UTC.
    """
    if not isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_timestamp(value: datetime, digits: int = 3, zulu: bool = True) -> str:
    """Format a response timestamp the way Siigo does (``digits`` fraction digits)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if digits > 0:
        base += "." + f"{value.microsecond:06d}"[:digits]
    return base + ("Z" if zulu else "")
