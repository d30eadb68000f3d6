#!/usr/bin/env python3
"""Send one signed order webhook to Pregón (Standard Webhooks), standard library only.

    python3 docs/examples/send_order_webhook.py \
        --url http://acme.localhost:8000/api/integrations/1/webhook \
        --secret whsec_... --connect 127.0.0.1:8000

`--connect` dials another address than the URL's host (like curl --resolve),
for demo hosts such as acme.localhost that only browsers resolve.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import sys
import time
import uuid
from urllib.parse import urlsplit


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--connect", help="host:port to connect to instead of the URL's")
    parser.add_argument("--external-id", default=f"SHOP-{int(time.time())}")
    parser.add_argument(
        "--webhook-id",
        default=None,
        help="reuse one, with the same --occurred-at, to see a retry answered as a duplicate "
        "(a retry resends the same body; another body under the same id is a 409)",
    )
    parser.add_argument("--occurred-at", default=None, help="the event's ISO-8601 time (default: now)")
    args = parser.parse_args()

    event = {
        "type": "order.created",
        "timestamp": args.occurred_at or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {
            "store_id": 1,
            "external_id": args.external_id,
            "total": "18.50",
            "currency": "EUR",
            "customer": {"email": "ana@example.com", "name": "Ana Díaz"},
            "line_items": [{"sku": "MENU-1", "name": "Menú del día", "quantity": 1, "unit_price": "18.50"}],
        },
    }
    body = json.dumps(event).encode()
    webhook_id = args.webhook_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time())

    url = urlsplit(args.url)
    host, _, port = (args.connect or url.netloc).partition(":")
    connection = http.client.HTTPConnection(host, int(port or 80), timeout=10)
    connection.request(
        "POST",
        url.path,
        body=body,
        headers={
            "Host": url.netloc,
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(args.secret, webhook_id, timestamp, body),
        },
    )
    response = connection.getresponse()
    print(response.status, response.read().decode())
    return 0 if response.status < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
