"""Reading values that clients send."""

import json
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


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _check_text(value) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text may not contain the NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)


def parse_json(text: str | bytes, *, parse_float=float):
    """JSON from a client, stricter than json.loads: ValueError (with a reason
    a client can act on) for anything we would not store.

    json.loads accepts NaN and Infinity, raises RecursionError (not
    ValueError) on deeply nested arrays, and lets through "\\u0000", which
    PostgreSQL cannot store in text: all three would become a 500.
    """
    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    _check_text(value)
    return value
