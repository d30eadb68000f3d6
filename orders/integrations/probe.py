""" "Send a test event" from the integrations page: a real, signed webhook.

The request is built as a shop system would build it (an `order.created`
body, a fresh `webhook-id`, the current timestamp, signed with the
integration's newest active secret) and handed to `batch.apply_in_tenant`,
the very code the webhook endpoint runs: signature check, rate limits,
strict parsing, the delivery log, the order, its stream event and the live
publish after commit. Only the network hop is skipped. So a test order
appears on the store's open boards, the delivery appears in the log, and a
refusal (a store the integration may not write to, the rate limit) is
reported and logged as it would be for the shop.
"""

import json
import secrets
import time

from django.utils import timezone
from django.utils.translation import gettext as _

from orders.integrations import batch, webhooks
from orders.models import Integration
from platform_core.errors import ApplicationError


def probe_body(*, store_id: int, external_id: str) -> bytes:
    event = {
        "type": "order.created",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "store_id": store_id,
            "external_id": external_id,
            "total": "0.00",
            "currency": "EUR",
            "line_items": [{"name": _("Test order"), "quantity": 1, "unit_price": "0.00"}],
            "notes": _("A test event sent from the integrations page. Cancel it on the board."),
        },
    }
    return json.dumps(event).encode()


def send_test_event(*, integration: Integration, store_id: int, address: str) -> tuple[str, batch.Answer]:
    """Sign and apply one test `order.created` for `store_id`; returns its
    webhook-id and the answer the shop would have had. The tenant's schema
    must be active and no transaction open (as for `apply_in_tenant`)."""
    secret = (
        integration.secrets.filter(revoked_at__isnull=True).order_by("-id").values_list("secret", flat=True).first()
    )
    if secret is None:
        raise ApplicationError("invalid", _("no active secret"), fields={"secrets": "add a secret first"})
    webhook_id = f"test_{secrets.token_hex(12)}"
    stamp = str(int(time.time()))
    body = probe_body(store_id=store_id, external_id=f"TEST-{secrets.token_hex(3).upper()}")
    request = batch.WebhookRequest(
        integration_id=integration.pk,
        address=address,
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": stamp,
            "webhook-signature": webhooks.sign(secret=secret, webhook_id=webhook_id, stamp=stamp, body=body),
        },
        body=body,
    ).prepare()
    (answer,) = batch.apply_in_tenant([request])
    return webhook_id, answer
