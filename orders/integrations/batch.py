"""Signed webhooks applied many to a transaction: one commit for K requests.

One commit per request in series is capped by the disk: this machine does
about 870 fdatasyncs/s (docs/performance.md), and every accepted webhook
is durable only once its transaction's WAL is flushed. So each worker
process gathers the requests that arrive while its previous transaction is
committing and applies up to WEBHOOK_BATCH_SIZE of them in one:

- everything that needs no database (reading the body, its digest and
  strict parsing) is done per request, in the event loop (`edge.py`);
- per batch: the tenants, from the edge (its worker's record of hosts,
  ws.middleware), or by host name in the public schema (one query); per
  tenant: its integrations and active secrets (two queries),
  then the signatures (CPU) and the rate counters (one upsert per key,
  autocommitted to their UNLOGGED table before the transaction, so no
  counter row is locked while the orders are written);
- then one transaction per tenant: each request in a SAVEPOINT of its
  own, so a refused or failing one rolls back alone (its refusal is logged
  in the outer transaction, as the one-request path does), and COMMIT;
- each request is answered only after that COMMIT returned: a 2xx means
  durable (synchronous_commit stays on). Publishes to the dashboards run
  after the commit, as everywhere (`transaction.on_commit`); the edge
  sends them after the answers, while its next batch runs (edge.py).

A failure of the transaction itself (PostgreSQL gone, the commit refused)
answers every request of it 503 (an outage) or 500, and nothing of it is
written; a deadlock with another worker's batch retries the batch. Two
batches that insert some of the same orders, customers or webhook-ids
wait for each other's on the unique indexes: a batch of new orders
inserts each kind in a sorted order, so that they wait in one order, not
in a cycle (an outside test with two workers sending the same orders to
both saw 4 deadlocks in 20 s before, each retried).

The one-request view (`api.webhook`, Django's test client, WSGI) calls the
same `apply_in_tenant` with a batch of one, so both paths share every rule.
"""

import collections
import dataclasses
import logging
import time
from dataclasses import asdict

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django_tenants.utils import get_public_schema_name, schema_context

from orders import selectors
from orders.integrations import services, webhooks
from orders.models import Integration, IntegrationSecret
from orders.stream import stream_batch
from platform_core import limits
from platform_core.api import STATUS_BY_CODE
from platform_core.availability import is_outage
from platform_core.errors import ApplicationError
from stores.models import Store
from tenants.models import Domain, Tenant
from ws.db import use_tenant
from ws.layer import publishes_gathered

logger = logging.getLogger(__name__)

SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
RETRY_AFTER_SECONDS = 5
DEADLOCK_RETRIES = 3


@dataclasses.dataclass
class WebhookRequest:
    """One POST, as read off the wire, before any database work."""

    integration_id: int
    address: str  # the client's address (REMOTE_ADDR), for the unverified budget
    headers: dict  # lower-case names: webhook-id, webhook-timestamp, webhook-signature
    body: bytes
    too_large: bool = False
    received_at: float = dataclasses.field(default_factory=time.time)
    # Filled by `prepare()`, which needs no database (the event loop runs it).
    digest: str = ""
    event: webhooks.OrderEvent | None = None
    parse_error: ApplicationError | None = None

    def prepare(self) -> "WebhookRequest":
        """Digest and parse the body (pure CPU); a parse error is kept, and
        reported only once the request is known to be signed."""
        if not self.too_large and not self.digest:
            self.digest = webhooks.body_digest(self.body)
            try:
                self.event = webhooks.parse(self.body)
            except ApplicationError as error:
                self.parse_error = error
        return self


@dataclasses.dataclass
class Answer:
    status: int
    body: dict
    headers: dict = dataclasses.field(default_factory=dict)


def _error(error: ApplicationError) -> Answer:
    body = {"error": {"code": error.code, "message": error.message, "fields": error.fields}}
    return Answer(STATUS_BY_CODE.get(error.code, 400), body)


def _rate_limited(message: str, wait: int) -> Answer:
    answer = _error(ApplicationError("rate_limited", message))
    answer.headers["Retry-After"] = str(wait)
    return answer


def failed(error: BaseException) -> Answer:
    """The answer to every request of a batch whose transaction failed."""
    if is_outage(error):
        message = "Pregón is briefly unavailable (a database or Redis restart); retry in a few seconds."
        answer = Answer(503, {"error": {"code": "unavailable", "message": message, "fields": {}}})
        answer.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return answer
    return Answer(500, {"error": {"code": "internal", "message": "internal error; retry later", "fields": {}}})


# --- a whole batch, from host names ---------------------------------------------------
def apply_batch(items: list[tuple[Tenant | str, WebhookRequest]]) -> list[Answer | None]:
    """Apply (tenant, request) pairs, one transaction per tenant. A tenant
    may be given by host name: those are read here, in one query. None for
    a request whose host is no tenant's (the caller hands it to Django,
    which answers it as it answers any unknown host)."""
    try:
        return _apply_batch(items)
    except Exception as error:
        if is_outage(error):
            _forget_connection()
        raise


def _apply_batch(items: list[tuple[Tenant | str, WebhookRequest]]) -> list[Answer | None]:
    if names := {host for host, _ in items if isinstance(host, str)}:
        with schema_context(get_public_schema_name()):
            domains = Domain.objects.select_related("tenant").filter(domain__in=names)
            named = {d.domain: d.tenant for d in domains if d.tenant.schema_name != get_public_schema_name()}
        items = [(named.get(host) if isinstance(host, str) else host, request) for host, request in items]
    answers: list[Answer | None] = [None] * len(items)
    by_tenant: dict[str, list[int]] = collections.defaultdict(list)
    schemas = {}
    for n, (tenant, _) in enumerate(items):
        if tenant is not None:
            by_tenant[tenant.schema_name].append(n)
            schemas[tenant.schema_name] = tenant
    for schema, positions in by_tenant.items():
        try:
            tenant_answers = _with_retries(schemas[schema], [items[n][1] for n in positions])
        except Exception as error:  # the tenant's transaction failed: all of it
            if not is_outage(error):
                logger.exception("a webhook batch failed")
            _forget_connection()
            tenant_answers = [failed(error)] * len(positions)
        for n, answer in zip(positions, tenant_answers, strict=True):
            answers[n] = answer
    return answers


def _with_retries(tenant: Tenant, requests: list[WebhookRequest]) -> list[Answer]:
    for attempt in range(DEADLOCK_RETRIES):
        try:
            # The batch thread stays in the tenant after the batch: the next
            # batch of the same tenant (the usual case) skips `SET search_path`.
            use_tenant(tenant)
            return apply_in_tenant(requests)
        except DatabaseError as error:
            if getattr(getattr(error, "__cause__", None), "sqlstate", None) != "40P01" or attempt == 2:
                raise
            logger.warning("a webhook batch deadlocked with another worker's; retrying it")
    raise AssertionError("unreachable")


def _forget_connection() -> None:
    # A broken connection (PostgreSQL restarted) would fail every later
    # batch of this thread: give it back, the next batch takes a fresh one.
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may fail too
        logger.debug("closing the batch's connection failed", exc_info=True)


# --- one tenant's requests ------------------------------------------------------------
def apply_in_tenant(requests: list[WebhookRequest]) -> list[Answer]:
    """Verify, limit and apply `requests` of the active tenant; one answer
    each, in order. The tenant's schema must be active; no transaction may
    be open (the rate counters autocommit) unless the caller accepts that
    its transaction carries them (tests)."""
    answers: list[Answer | None] = [None] * len(requests)
    verified = _verify(requests, answers)
    if not verified:
        return answers
    # Applied in store order: two workers' batches then take their stores'
    # row locks in the same order and cannot deadlock on them.
    verified.sort(key=lambda v: _store_of(requests[v[0]]))
    # The commit's publishes leave together, after it (ws.layer); a rolled
    # back attempt's never do (they wait for its commit).
    with publishes_gathered():
        try:
            with transaction.atomic():
                for n, answer in _apply_all_at_once(requests, verified):
                    answers[n] = answer
            return answers
        except Exception as error:
            if is_outage(error) or getattr(error.__cause__, "sqlstate", None) == "40P01":
                raise
            # Something in the batch is refused or failed: applied again, each
            # request in its own savepoint, so that it fails alone.
        stores = set(
            Store.objects.filter(pk__in={_store_of(requests[v[0]]) for v in verified}).values_list("pk", flat=True)
        )
        with transaction.atomic():
            for n, integration, webhook_id in verified:
                answers[n] = _apply_one(requests[n], integration, webhook_id, stores)
    return answers


def _apply_all_at_once(requests: list[WebhookRequest], verified: list[tuple[int, Integration, str]]):
    """The fast path: (position, answer) of every verified request, applied
    with no savepoint. A batch of new orders only is a few statements in
    all (StreamBatch, `webhook_create_new`: the orders in one INSERT, their
    deliveries in another); otherwise about two per new order and ten per
    other event. Raises on the first request that is refused or fails; the
    caller then rolls back everything of it."""
    for n, _, _ in verified:
        if requests[n].parse_error is not None:
            raise requests[n].parse_error
    events = [requests[n].event for n, _, _ in verified]
    created = {(e.store_id, e.external_id) for e in events if e.type == "order.created"}
    # Only new orders, each once: the stores need no lock until their
    # events take their seqs, at the end (a concurrent creation of the same
    # order fails on the unique (store, external_id), and the batch goes
    # again one request at a time). Otherwise they are locked first, and
    # what exists is read under the locks.
    only_new = len(created) == len(events) and services.orders_absent(created) == created
    with stream_batch({e.store_id for e in events}, lock_now=not only_new) as stream:
        if only_new:
            received = [_received(requests[n], integration, webhook_id) for n, integration, webhook_id in verified]
            orders = services.webhook_create_new(
                received=received, stores=selectors.stores_existing({e.store_id for e in events})
            )
            return [
                (n, Answer(200, _applied_body(True, webhook_id, order)))
                for (n, _, webhook_id), order in zip(verified, orders, strict=True)
            ]
        stores, new = set(stream.last_seq), services.orders_absent(created)
        answers = []
        for n, integration, webhook_id in verified:
            request = requests[n]
            key = (request.event.store_id, request.event.external_id)
            fresh = request.event.type == "order.created" and key in new
            if fresh:
                new.discard(key)  # a second copy in this batch finds the first's order
            applied, order = _receive(request, integration, webhook_id, stores, new_order=fresh)
            answers.append((n, Answer(200, _applied_body(applied, webhook_id, order))))
    return answers


def _received(request: WebhookRequest, integration: Integration, webhook_id: str) -> services.Received:
    return services.Received(integration, webhook_id, request.digest, request.event)


def _receive(request: WebhookRequest, integration: Integration, webhook_id: str, stores: set[int], *, new_order=False):
    """(applied, order) of one verified request: `webhook_create_new` for an
    order known not to exist (the fast path's), else `webhook_receive`."""
    received = _received(request, integration, webhook_id)
    if new_order:
        (order,) = services.webhook_create_new(received=[received], stores=stores)
        return True, order
    return services.webhook_receive(**received._asdict(), stores=stores)


def _applied_body(applied: bool, webhook_id: str, order) -> dict:
    return {
        "status": "processed" if applied else "duplicate",
        "webhook_id": webhook_id,
        "order": asdict(selectors.order_data(order)) if order else None,
    }


def _store_of(request: WebhookRequest) -> int:
    return request.event.store_id if request.event else 0


def _verify(requests: list[WebhookRequest], answers: list) -> list[tuple[int, Integration, str]]:
    """Fill `answers` for the requests refused before any write; return
    (position, integration, webhook-id) of the others.

    Anyone can send unsigned requests, and integration ids are sequential:
    counted against the integration, they would let anyone lock its shop
    out of its budget. So only verified requests spend the integration's
    budget; requests that fail before that (unknown integration, too large,
    bad signature) are counted per client address, and an address over its
    limit is refused before any lookup or HMAC. Counters are per tenant
    (limits.py), so a flood on one tenant blocks no one on another.
    """
    ids = {r.integration_id for r in requests}
    integrations = {i.pk: i for i in Integration.objects.filter(pk__in=ids, revoked_at__isnull=True)}
    secrets = collections.defaultdict(list)
    for integration_id, secret in IntegrationSecret.objects.filter(
        Q(integration_id__in=list(integrations)), revoked_at__isnull=True
    ).values_list("integration_id", "secret"):
        secrets[integration_id].append(secret)

    per_address = settings.WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE
    waits = {}  # unverified key → seconds to wait, or None
    signed: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
    for n, request in enumerate(requests):
        unverified = f"webhook:unverified:{(request.address or 'unknown')[:100]}"
        if unverified not in waits:
            waits[unverified] = limits.exceeded(unverified, limit=per_address, window=60)
        if waits[unverified] is not None:
            answers[n] = _rate_limited(
                f"at most {per_address} unverified webhook requests per minute per address", waits[unverified]
            )
            continue
        try:
            integration = integrations.get(request.integration_id)
            if integration is None:
                raise ApplicationError("not_found", "no such integration on this host")
            if request.too_large:
                limit = settings.WEBHOOK_MAX_BODY_BYTES
                raise ApplicationError("too_large", f"bodies are limited to {limit} bytes")
            webhook_id = webhooks.verify(
                secrets=secrets[integration.pk], headers=request.headers, body=request.body, now=request.received_at
            )
        except ApplicationError as error:
            answers[n] = _error(error)  # unauthenticated: nothing else is stored
            counted = limits.hit(unverified, limit=per_address, window=60)
            if counted is not None:
                waits[unverified] = counted
            continue
        signed[integration.pk].append((n, webhook_id))

    per_integration = settings.WEBHOOK_REQUESTS_PER_MINUTE
    verified = []
    for integration_id, positions in signed.items():
        # One upsert for all of this integration's requests in the batch:
        # the first `allowed` of them are within the budget.
        allowed, wait = limits.hit_many(f"webhook:{integration_id}", n=len(positions), limit=per_integration, window=60)
        for k, (n, webhook_id) in enumerate(positions):
            if k < allowed:
                verified.append((n, integrations[integration_id], webhook_id))
            else:
                answers[n] = _rate_limited(f"at most {per_integration} requests per minute per integration", wait)
    return verified


def _apply_one(request: WebhookRequest, integration: Integration, webhook_id: str, stores: set[int]) -> Answer:
    """One verified request, inside the batch's transaction: applied in a
    savepoint of its own, or refused with nothing of it written but its
    delivery log row."""
    event_type = request.event.type if request.event else ""
    try:
        if request.parse_error is not None:
            raise request.parse_error
        with transaction.atomic():  # the savepoint: a refusal rolls back this request only
            applied, order = _receive(request, integration, webhook_id, stores)
            body = _applied_body(applied, webhook_id, order)
    except ApplicationError as error:
        answer = _error(error)
        with transaction.atomic():  # its own savepoint: a failed log must not fail the batch
            services.webhook_refused(
                integration=integration,
                webhook_id=webhook_id,
                body_digest=request.digest,
                event_type=event_type,
                status_code=answer.status,
                error=f"{error.code}: {error.message} {error.fields}",
            )
        return answer
    except Exception as error:
        # The connection itself failed, or a deadlock: the transaction is
        # lost, for every request of the batch (apply_batch answers them).
        # Anything else (a bug, a constraint) fails this request alone: its
        # savepoint is rolled back.
        if is_outage(error) or getattr(error.__cause__, "sqlstate", None) == "40P01":
            raise
        logger.exception("webhook %s failed", webhook_id)
        return failed(error)
    return Answer(200, body)
