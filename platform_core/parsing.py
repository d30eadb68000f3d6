"""Reading values that clients send."""

from datetime import datetime

from django.utils.dateparse import parse_datetime


def parse_moment(value, *, max_length: int = 40) -> datetime | None:
    """An ISO-8601 date-time, or None for anything else.

    Django's parse_datetime returns None for text of the wrong shape but
    raises ValueError for the right shape with impossible values
    (2026-13-45T00:00:00Z): both are just "not a date-time" to a client.
    """
    if not isinstance(value, str) or len(value) > max_length:
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None
