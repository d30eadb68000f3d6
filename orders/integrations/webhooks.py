"""Inbound order webhooks in the Standard Webhooks format.

`verify` checks the envelope (headers, timestamp, signature) against the
integration's active secrets; `parse` turns the body into a strict event or
names every bad field. Neither writes anything.
"""

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from platform_core.errors import ApplicationError
from platform_core.parsing import parse_client_int, parse_json, parse_moment

TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"
EVENT_TYPES = ("order.created", "order.updated", "order.status_changed", "order.comment_added")


def secret_key(secret: str) -> bytes:
    # Standard Webhooks: the key is the base64 after the `whsec_` prefix.
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")


def body_digest(body: bytes) -> str:
    """What a retry must repeat: the raw body, as signed (SHA-256, hex)."""
    return hashlib.sha256(body).hexdigest()


def sign(*, secret: str, webhook_id: str, stamp: str, body: bytes) -> str:
    """A `webhook-signature` value for this request, as a shop system signs
    it (`verify`'s inverse): the page's "send a test event" signs with it."""
    digest = hmac.new(secret_key(secret), f"{webhook_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(*, secrets: list[str], headers, body: bytes, now: float | None = None) -> str:
    """Return the `webhook-id` of a correctly signed, fresh request.

    Any `v1,` signature in `webhook-signature` may match any active secret
    (several are active during a rotation). Comparisons are constant-time.
    """
    missing = [name for name in ("webhook-id", "webhook-timestamp", "webhook-signature") if not headers.get(name)]
    if missing:
        raise ApplicationError("missing_signature", "unsigned request", fields={h: "required header" for h in missing})
    webhook_id, stamp, signatures = headers["webhook-id"], headers["webhook-timestamp"], headers["webhook-signature"]
    if len(webhook_id) > 200:
        raise ApplicationError("bad_signature", "webhook-id too long", fields={"webhook-id": "at most 200 characters"})
    try:
        seconds = parse_client_int(stamp, "webhook-timestamp", maximum=10**12)
    except ApplicationError:
        raise ApplicationError(
            "bad_signature", "invalid timestamp", fields={"webhook-timestamp": "Unix seconds"}
        ) from None
    skew = seconds - (time.time() if now is None else now)
    if abs(skew) > TOLERANCE_SECONDS:
        which = "in the future" if skew > 0 else "too old"
        raise ApplicationError(
            "stale_timestamp",
            f"timestamp {which}",
            fields={"webhook-timestamp": f"must be within {TOLERANCE_SECONDS // 60} minutes of now"},
        )
    signed = f"{webhook_id}.{stamp}.".encode() + body
    expected = [hmac.new(secret_key(secret), signed, hashlib.sha256).digest() for secret in secrets]
    for candidate in signatures.split(" ")[:10]:
        version, _, encoded = candidate.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Compare against every secret, matched or not, so timing tells nothing.
        if sum(hmac.compare_digest(given, digest) for digest in expected):
            return webhook_id
    raise ApplicationError(
        "bad_signature",
        "no signature matches an active secret",
        fields={"webhook-signature": "no matching v1 signature"},
    )


@dataclass(frozen=True)
class OrderEvent:
    type: str
    store_id: int
    external_id: str
    fields: dict  # what the event sets: total, currency, line_items, notes, customer, status, body


_COMMON = {"store_id", "external_id"}
_ALLOWED = {
    "order.created": _COMMON | {"total", "currency", "line_items", "notes", "customer"},
    "order.updated": _COMMON | {"total", "currency", "line_items", "notes", "customer"},
    "order.status_changed": _COMMON | {"status"},
    "order.comment_added": _COMMON | {"body"},
}
_REQUIRED = {
    "order.created": _COMMON | {"total"},
    "order.updated": _COMMON,
    "order.status_changed": _COMMON | {"status"},
    "order.comment_added": _COMMON | {"body"},
}


def _is_email(value) -> bool:
    """One address, in ASCII (a zero-width or lookalike character would make
    a second account that reads like someone else's), that Django's
    validator accepts."""
    if not isinstance(value, str) or not value.strip().isascii() or len(value) > 254:
        return False
    try:
        validate_email(value.strip())
    except ValidationError:
        return False
    return True


def parse(body: bytes) -> OrderEvent:
    """The body as a strict event; an ApplicationError names every bad field."""
    try:
        payload = parse_json(body, parse_float=Decimal)
    except ValueError as error:
        raise ApplicationError("invalid_json", f"the body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ApplicationError("invalid_json", "the body must be a JSON object")
    errors: dict[str, str] = {key: "unexpected field" for key in set(payload) - {"type", "timestamp", "data"}}
    kind = payload.get("type")
    if kind not in EVENT_TYPES:
        errors["type"] = f"one of: {', '.join(EVENT_TYPES)}"
    stamp = payload.get("timestamp")
    if parse_moment(stamp) is None:
        errors["timestamp"] = "an ISO-8601 date-time"
    data = payload.get("data")
    if not isinstance(data, dict):
        errors["data"] = "an object"
    elif kind in EVENT_TYPES:
        errors.update({f"data.{k}": "unexpected field" for k in set(data) - _ALLOWED[kind]})
        errors.update({f"data.{k}": "required" for k in _REQUIRED[kind] - set(data)})
        store_id = data.get("store_id")
        if "store_id" in data and (
            isinstance(store_id, bool) or not isinstance(store_id, int) or not 0 < store_id < 2**63
        ):
            errors["data.store_id"] = "a positive integer"
        external_id = data.get("external_id")
        if "external_id" in data and (
            not isinstance(external_id, str) or not external_id.strip() or len(external_id) > 100
        ):
            errors["data.external_id"] = "a non-empty string of at most 100 characters"
        customer = data.get("customer")
        if customer is not None and not (
            isinstance(customer, dict)
            and set(customer) <= {"email", "name"}
            and _is_email(customer.get("email"))
            and isinstance(customer.get("name", ""), str)
            and len(customer.get("name", "")) <= 150
        ):
            errors["data.customer"] = 'an object {"email": ..., "name": ...} with a valid email'
    if errors:
        raise ApplicationError("invalid", "invalid webhook payload", fields=errors)
    # total arrives as a string, an integer, or a JSON number (parsed exactly
    # as a Decimal, never through float).
    fields = {k: v for k, v in data.items() if k not in _COMMON}
    return OrderEvent(type=kind, store_id=data["store_id"], external_id=data["external_id"].strip(), fields=fields)
