"""Signed webhooks answered at the ASGI edge, applied in batches (batch.py).

A webhook through Django's full stack cost a dozen thread hops (every
synchronous middleware and the view run on threads under ASGI) and one
transaction, so one commit, per request. `WebhookEdge` takes a
`POST /api/integrations/<id>/webhook` on a tenant's host out of that path:
it reads the body and parses it in the event loop, and hands it to one of
the worker's `WebhookBatcher`s (by store: `batcher()`), which applies the
requests that are waiting, up to WEBHOOK_BATCH_SIZE, in one transaction on
its own thread and connection.
Each request is answered once its batch has committed.

Everything else goes to Django unchanged, and so does anything unusual
about a webhook (another method, a host that is not allowed or is no
tenant's, a plain-HTTP request where HTTPS is enforced): Django answers it
as it always did. The answers carry the security headers that Django's
middleware would add to a JSON answer.
"""

import asyncio
import json
import logging
import re
import weakref
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from orders.integrations import batch
from platform_core.availability import OUTAGES
from tenants.models import Tenant
from ws.layer import publishes_gathered, send_in_order
from ws.middleware import tenant_hostname, tenants_by_host

logger = logging.getLogger(__name__)

PATH = re.compile(r"/api/integrations/([0-9]{1,18})/webhook")


class WebhookBatcher:
    """One per worker process (per event loop): requests wait in `pending`
    while the previous batch commits, and go together in the next one.

    There is no timer at low load: a request that finds no batch running
    starts one at once (after WEBHOOK_BATCH_WAIT_MS, for a few more to
    join). Under load, batches form by themselves from what arrives during
    a commit, up to WEBHOOK_BATCH_SIZE.
    """

    def __init__(self, *, size: int, wait: float):
        self.size, self.wait = size, wait
        self.pending: list[tuple[Tenant | str, batch.WebhookRequest, asyncio.Future]] = []
        self.running: asyncio.Task | None = None
        self.publishing: asyncio.Task | None = None  # the last batch's publishes
        # One thread, so one connection, kept for the worker's life: no pool
        # checkout per request, and batches commit one after another.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhook-batch")

    async def submit(self, tenant: Tenant | str, request: batch.WebhookRequest) -> batch.Answer | None:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((tenant, request, future))
        if self.running is None or self.running.done():
            self.running = asyncio.create_task(self._run())
        # A client that leaves does not cancel its request: it is applied
        # (or not) with its batch, as a synchronous view would finish.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while self.pending:
            if self.wait and len(self.pending) < self.size:
                await asyncio.sleep(self.wait)
            taken, self.pending = self.pending[: self.size], self.pending[self.size :]
            items = [(tenant, request) for tenant, request, _ in taken]
            committed: list[tuple] = []  # the publishes of what the batch committed
            try:
                answers = await sync_to_async(_apply, thread_sensitive=False, executor=self.executor)(items, committed)
            except Exception as error:  # noqa: BLE001 - every waiting request gets an answer
                logger.exception("a webhook batch failed")
                answers = [batch.failed(error)] * len(taken)
            for (_, _, future), answer in zip(taken, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
            # Sent after the answers, while the next batch runs (its thread
            # no longer waits for Redis), and after the previous batch's:
            # a store's seqs stay in order on the wire, and at most one
            # batch's publishes are in flight.
            if self.publishing is not None:
                await self.publishing
            self.publishing = asyncio.create_task(send_in_order(committed)) if committed else None


def _apply(items: list[tuple[Tenant | str, batch.WebhookRequest]], committed: list[tuple]) -> list[batch.Answer | None]:
    with publishes_gathered(committed):
        return batch.apply_batch(items)


_lanes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[WebhookBatcher]]" = weakref.WeakKeyDictionary()


def batcher(hostname: str, store_id: int) -> WebhookBatcher:
    """The worker's batcher for a store (its lane).

    One lane by default (WEBHOOK_BATCH_LANES): since a batch of new orders
    costs about two statements per order and a dozen per batch, what
    counts is the batch size, and lanes split the waiting requests into
    smaller batches (measured with `make bench`, webhooks, 16 connections:
    1 lane 305 orders/s, 2 lanes 214, 4 lanes 142). With several lanes, each
    runs on its own thread and connection, a store always maps to the same
    lane (its requests keep their order), and two lanes never wait on each
    other's store row locks.
    """
    loop = asyncio.get_running_loop()
    if loop not in _lanes:
        _lanes[loop] = [
            WebhookBatcher(size=settings.WEBHOOK_BATCH_SIZE, wait=settings.WEBHOOK_BATCH_WAIT_MS / 1000)
            for _ in range(max(1, settings.WEBHOOK_BATCH_LANES))
        ]
    lanes = _lanes[loop]
    return lanes[hash((hostname, store_id)) % len(lanes)]


class WebhookEdge:
    """ASGI middleware for HTTP, inside BodyLimits (so a body it reads is
    within WEBHOOK_MAX_BODY_BYTES)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        match = PATH.fullmatch(scope["path"]) if scope["type"] == "http" else None
        if (
            match is None
            or scope["method"] != "POST"
            or not settings.WEBHOOK_BATCHING
            or (settings.SECURE_SSL_REDIRECT and scope.get("scheme") != "https")
        ):
            return await self.app(scope, receive, send)
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            # As Django's ASGI request joins repeated headers.
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]},{text}" if key in headers else text
        hostname = tenant_hostname(headers.get("host", ""))
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
        body = bytes(body)
        answer = None
        if hostname is not None and "," not in headers.get("host", ""):
            request = batch.WebhookRequest(
                integration_id=int(match.group(1)),
                address=(scope.get("client") or ("unknown",))[0],
                headers={name: headers.get(name) for name in batch.SIGNATURE_HEADERS},
                body=body,
                too_large=len(body) > settings.WEBHOOK_MAX_BODY_BYTES,
            ).prepare()
            try:
                # The worker's record of hosts (the sockets' too): no query
                # per batch; a Domain changed elsewhere is seen within
                # TENANT_CACHE_SECONDS.
                tenant: Tenant | str | None = await tenants_by_host.get(hostname)
            except OUTAGES:
                # Its connection had died (a database restart): the batch
                # reads the host on its own, as it would with no record.
                tenant = hostname
            if tenant is not None:
                lane = batcher(hostname, request.event.store_id if request.event else 0)
                answer = await lane.submit(tenant, request)
        if answer is None:  # not a tenant's host: Django answers, as before
            return await self.app(scope, _replay(body, receive), send)
        await _respond(scope, send, answer)


def _replay(body: bytes, receive):
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _security_headers(scope) -> list[tuple[bytes, bytes]]:
    # What SecurityMiddleware and XFrameOptionsMiddleware put on a JSON
    # answer (HSTS on HTTPS requests only, as Django does).
    headers = [(b"x-frame-options", settings.X_FRAME_OPTIONS.encode())]
    if settings.SECURE_HSTS_SECONDS and scope.get("scheme") == "https":
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        value += "; includeSubDomains" if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS else ""
        value += "; preload" if settings.SECURE_HSTS_PRELOAD else ""
        headers.append((b"strict-transport-security", value.encode()))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append((b"x-content-type-options", b"nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        headers.append((b"referrer-policy", str(settings.SECURE_REFERRER_POLICY).encode()))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append((b"cross-origin-opener-policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY.encode()))
    return headers


async def _respond(scope, send, answer: batch.Answer) -> None:
    body = json.dumps(answer.body, cls=DjangoJSONEncoder).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *_security_headers(scope),
        *((name.lower().encode(), value.encode()) for name, value in answer.headers.items()),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
