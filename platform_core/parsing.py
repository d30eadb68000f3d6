"""Reading values that clients send."""

import json
from datetime import datetime

from django.utils.dateparse import parse_datetime

from platform_core.errors import ApplicationError


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


def unstorable(text: str) -> str | None:
    """Why PostgreSQL could not store `text`, or None if it can.

    A NUL is refused in text and jsonb; a lone surrogate ("\\ud800" in JSON
    is valid syntax, but stands for no character) has no UTF-8 form, so
    psycopg cannot even send it.
    """
    if "\x00" in text:
        return "text may not contain the NUL character (\\u0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "text may not contain a lone surrogate (\\ud800-\\udfff without its pair)"
    return None


def _check_text(value) -> None:
    if isinstance(value, str):
        if reason := unstorable(value):
            raise ValueError(reason)
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
    ValueError) on deeply nested arrays, and lets through "\\u0000" and lone
    surrogates ("\\ud800"), which PostgreSQL cannot store in text: all of them
    would become a 500.
    """
    try:
        value = json.loads(text, parse_float=parse_float, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    _check_text(value)
    return value


BIGINT_MAX = 2**63 - 1


def parse_client_int(value, name: str, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int:
    """An integer a client sent: a query parameter, a header, a path part or a
    frame field. A JSON integer (not a boolean), or a string of the ASCII
    digits 0-9 only; anything else raises ApplicationError("invalid") naming
    `name`. The one place such input is read: `str.isdigit()` also accepts
    "²" and "٣", which `int()` then refuses (a 500) or reads as 3.
    """
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
            raise ApplicationError(
                "invalid",
                f"`{name}` must be an integer written with the digits 0-9",
                fields={name: f"an integer from {minimum} to {maximum}"},
            )
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ApplicationError(
            "invalid",
            f"`{name}` must be an integer from {minimum} to {maximum}",
            fields={name: f"an integer from {minimum} to {maximum}"},
        )
    return value
