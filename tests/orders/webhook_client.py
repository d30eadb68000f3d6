"""Send webhooks the way an integrator does: signed by the reference library."""

import json
import uuid
from datetime import UTC, datetime, timedelta

from django.test import Client
from standardwebhooks import Webhook


def payload(kind="order.created", **data) -> dict:
    return {"type": kind, "timestamp": "2026-11-21T12:00:00Z", "data": {"store_id": 1, "external_id": "SHOP-1", **data}}


def sign(secret: str, body: str, *, msg_id: str | None = None, at: datetime | None = None) -> dict:
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(tz=UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


def post(integration_id: int, body, headers: dict, *, host: str = "acme.localhost", address: str = "127.0.0.1"):
    """POST `body` with `headers`, from the client address `address`."""
    text = body if isinstance(body, str) else json.dumps(body)
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
    return Client(HTTP_HOST=host, REMOTE_ADDR=address).post(
        f"/api/integrations/{integration_id}/webhook", data=text, content_type="application/json", **extra
    )


def send(integration_id: int, secret: str, body, **kwargs):
    """Sign `body` with `secret` and post it; kwargs go to sign() and post()."""
    text = body if isinstance(body, str) else json.dumps(body)
    sign_args = {k: kwargs.pop(k) for k in ("msg_id", "at") if k in kwargs}
    return post(integration_id, text, sign(secret, text, **sign_args), **kwargs)


def stale(minutes: float) -> datetime:
    return datetime.now(tz=UTC) + timedelta(minutes=minutes)
