"""Integrations over HTTP: the signed webhook, and their management by tenant admins."""

from dataclasses import asdict

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from orders import selectors
from orders.integrations import services, webhooks
from orders.models import Integration, WebhookDelivery
from platform_core import limits
from platform_core.api import api_view, declared_length, error_response, paginate, read_json, session_only
from platform_core.errors import ApplicationError


def _rate_limited(message: str, wait: int) -> JsonResponse:
    response = error_response(ApplicationError("rate_limited", message))
    response["Retry-After"] = str(wait)
    return response


def _verified(request, integration_id: int) -> tuple[Integration, str, bytes]:
    """(integration, webhook-id, body) of a correctly signed request, or an
    ApplicationError: 404, 413 (checked before the body is read) or 401."""
    integration = Integration.objects.filter(pk=integration_id, revoked_at__isnull=True).first()
    if integration is None:
        raise ApplicationError("not_found", "no such integration on this host")
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    if declared_length(request) > limit:
        raise ApplicationError("too_large", f"bodies are limited to {limit} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise ApplicationError("too_large", f"bodies are limited to {limit} bytes")
    secrets = list(integration.secrets.filter(revoked_at__isnull=True).values_list("secret", flat=True))
    return integration, webhooks.verify(secrets=secrets, headers=request.headers, body=body), body


@csrf_exempt  # authenticated by its signature, not by a browser session
def webhook(request, integration_id: int):
    """POST /api/integrations/<id>/webhook. Answer fast; write only on success."""
    if request.method != "POST":
        response = error_response(ApplicationError("method_not_allowed", "use POST"))
        response["Allow"] = "POST"
        return response
    # Anyone can send unsigned requests, and integration ids are sequential:
    # counted against the integration, they would let anyone lock its shop
    # out of its budget. So only verified requests spend the integration's
    # budget; requests that fail before that (unknown integration, too
    # large, bad signature) are counted per client address, and an address
    # over its limit is refused before any lookup, read or HMAC. Counters
    # are per tenant (limits.py), so a flood on one tenant blocks no one on
    # another.
    unverified = f"webhook:unverified:{(request.META.get('REMOTE_ADDR') or 'unknown')[:100]}"
    per_address = settings.WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE
    wait = limits.exceeded(unverified, limit=per_address, window=60)
    if wait is not None:
        return _rate_limited(f"at most {per_address} unverified webhook requests per minute per address", wait)
    try:
        integration, webhook_id, body = _verified(request, integration_id)
    except ApplicationError as error:
        limits.hit(unverified, limit=per_address, window=60)
        return error_response(error)  # unauthenticated: nothing else is stored
    per_integration = settings.WEBHOOK_REQUESTS_PER_MINUTE
    wait = limits.hit(f"webhook:{integration.pk}", limit=per_integration, window=60)
    if wait is not None:
        return _rate_limited(f"at most {per_integration} requests per minute per integration", wait)

    event_type, digest = "", webhooks.body_digest(body)
    try:
        event = webhooks.parse(body)
        event_type = event.type
        applied, order = services.webhook_receive(
            integration=integration, webhook_id=webhook_id, body_digest=digest, event=event
        )
    except ApplicationError as error:
        response = error_response(error)
        services.webhook_refused(
            integration=integration,
            webhook_id=webhook_id,
            body_digest=digest,
            event_type=event_type,
            status_code=response.status_code,
            error=f"{error.code}: {error.message} {error.fields}",
        )
        return response
    return JsonResponse(
        {
            "status": "processed" if applied else "duplicate",
            "webhook_id": webhook_id,
            "order": asdict(selectors.order_data(order)) if order else None,
        }
    )


# --- management, for tenant admins ----------------------------------------------------
def _admin_only(request):
    if not request.user.is_tenant_admin:
        raise ApplicationError("forbidden", "only tenant admins manage integrations")


def _integration_json(integration: Integration) -> dict:
    return {
        "id": integration.pk,
        "name": integration.name,
        "all_stores": integration.all_stores,
        "stores": sorted(integration.stores.values_list("pk", flat=True)),
        "created_at": integration.created_at.isoformat(),
        "webhook_url": f"/api/integrations/{integration.pk}/webhook",
        "secrets": [
            {"id": s.pk, "prefix": s.prefix, "created_at": s.created_at.isoformat(), "active": s.revoked_at is None}
            for s in integration.secrets.order_by("id")
        ],
    }


def _integration(integration_id: int) -> Integration:
    integration = Integration.objects.filter(pk=integration_id, revoked_at__isnull=True).first()
    if integration is None:
        raise ApplicationError("not_found", "no such integration")
    return integration


@api_view("GET", "POST")
def integrations(request):
    _admin_only(request)
    if request.method == "GET":
        return JsonResponse(
            paginate(request, Integration.objects.filter(revoked_at__isnull=True).order_by("-id"), _integration_json)
        )
    session_only(request, "create integrations")
    body = read_json(request, required={"name"}, optional={"stores"})
    stores = body.get("stores")
    if stores is not None and (
        not isinstance(stores, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in stores)
    ):
        raise ApplicationError(
            "invalid", "invalid stores", fields={"stores": "a list of store ids, or leave it out for all"}
        )
    integration, secret = services.integration_create(name=body["name"], store_ids=stores)
    return JsonResponse({**_integration_json(integration), "secret": secret}, status=201)


@api_view("POST")
def integration_secrets(request, integration_id: int):
    """Rotate: a new secret, shown once; the others stay valid until revoked."""
    _admin_only(request)
    session_only(request, "add integration secrets")
    secret = services.integration_secret_add(integration=_integration(integration_id))
    return JsonResponse({"secret": secret}, status=201)


@api_view("DELETE")
def integration_secret(request, integration_id: int, secret_id: int):
    _admin_only(request)
    services.integration_secret_revoke(integration=_integration(integration_id), secret_id=secret_id)
    return JsonResponse({"revoked": secret_id})


@api_view("GET")
def integration_deliveries(request, integration_id: int):
    _admin_only(request)
    deliveries = WebhookDelivery.objects.filter(integration=_integration(integration_id)).order_by("-id")
    return JsonResponse(
        paginate(
            request,
            deliveries,
            lambda d: {
                "id": d.pk,
                "webhook_id": d.webhook_id,
                "event_type": d.event_type,
                "received_at": d.received_at.isoformat(),
                "accepted": d.accepted,
                "status_code": d.status_code,
                "error": d.error,
                "order_id": d.order_id,
            },
        )
    )


webhook.api_methods = ("POST",)  # for the OpenAPI test, as api_view records it
