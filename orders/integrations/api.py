"""Integrations over HTTP: the signed webhook, and their management by tenant admins."""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from orders.integrations import batch, services
from orders.models import Integration, WebhookDelivery
from platform_core.api import api_view, declared_length, error_response, paginate, read_json, session_only
from platform_core.errors import ApplicationError


@csrf_exempt  # authenticated by its signature, not by a browser session
def webhook(request, integration_id: int):
    """POST /api/integrations/<id>/webhook, one request at a time.

    Under ASGI, `edge.WebhookEdge` answers these before Django and applies
    them in batches; this view serves the rest (Django's test client, a
    request the edge hands over) through the very same rules
    (`batch.apply_in_tenant`, a batch of one).
    """
    if request.method != "POST":
        response = error_response(ApplicationError("method_not_allowed", "use POST"))
        response["Allow"] = "POST"
        return response
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    # The integration is looked up before a too-large body is refused (404
    # before 413); nothing past the limit is read.
    too_large = declared_length(request) > limit
    body = b"" if too_large else request.read(limit + 1)
    webhook_request = batch.WebhookRequest(
        integration_id=integration_id,
        address=request.META.get("REMOTE_ADDR") or "unknown",
        headers={name: request.headers.get(name) for name in batch.SIGNATURE_HEADERS},
        body=body,
        too_large=too_large or len(body) > limit,
    ).prepare()
    (answer,) = batch.apply_in_tenant([webhook_request])
    response = JsonResponse(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response[name] = value
    return response


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
