"""Integrations over HTTP: the signed webhook, and their management by tenant admins."""

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from orders.integrations import batch, probe, services
from orders.integrations.webhooks import EVENT_TYPES
from orders.models import Integration, WebhookDelivery
from platform_core.api import api_view, declared_length, error_response, paginate, read_json, session_only
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_client_int, parse_moment


@csrf_exempt  # authenticated by its signature, not by a browser session
def webhook(request, integration_id: int):
    """POST /api/integrations/<id>/webhook, one request at a time.

    Under ASGI, `edge.WebhookEdge` answers these before Django and applies
    them in batches; this view serves the rest (Django's test client, a
    request the edge hands over) through the very same rules
    (`batch.apply_in_tenant`, a batch of one).
    """
    if request.method != "POST":
        response = error_response(ApplicationError("method_not_allowed", _("use POST")))
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
        raise ApplicationError("forbidden", _("only tenant admins manage integrations"))


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
        raise ApplicationError("not_found", _("no such integration"))
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


def _delivery_json(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.pk,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "received_at": delivery.received_at.isoformat(),
        "accepted": delivery.accepted,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "order_id": delivery.order_id,
    }


OUTCOMES = {"accepted": True, "refused": False}


def _delivery_filters(request) -> dict:
    """`?outcome=accepted|refused`, `?event_type=`, `?since=<ISO-8601>` and
    `?after=<delivery id>` (what a page that polls has not seen yet), as
    ORM lookups; a bad one is a 400 naming it."""
    errors, lookups = {}, {}
    outcome = request.GET.get("outcome", "")
    if outcome:
        if outcome in OUTCOMES:
            lookups["accepted"] = OUTCOMES[outcome]
        else:
            errors["outcome"] = "accepted or refused"
    event_type = request.GET.get("event_type", "")
    if event_type:
        if event_type in EVENT_TYPES:
            lookups["event_type"] = event_type
        else:
            errors["event_type"] = f"one of: {', '.join(EVENT_TYPES)}"
    since = request.GET.get("since", "")
    if since:
        moment = parse_moment(since)
        if moment is None or moment.tzinfo is None:
            errors["since"] = "an ISO-8601 date-time with a UTC offset"
        else:
            lookups["received_at__gte"] = moment
    after = request.GET.get("after", "")
    if after:
        try:
            lookups["pk__gt"] = parse_client_int(after, "after", minimum=0)
        except ApplicationError:
            errors["after"] = "a delivery id (ASCII digits)"
    if errors:
        raise ApplicationError("bad_request", _("invalid filter"), fields=errors)
    return lookups


@api_view("GET")
def integration_deliveries(request, integration_id: int):
    """Newest first, filtered (`_delivery_filters`) and paged."""
    _admin_only(request)
    deliveries = WebhookDelivery.objects.filter(integration=_integration(integration_id), **_delivery_filters(request))
    return JsonResponse(paginate(request, deliveries.order_by("-id"), _delivery_json))


@api_view("POST")
def integration_test_event(request, integration_id: int):
    """Sign a test `order.created` with the integration's secret and put it
    through the webhook's own code (probe.py): a real order, live on the
    store's boards, and a row in the delivery log. 200 with what the shop
    would have been answered, refusals included (`delivered` false)."""
    _admin_only(request)
    session_only(request, "send test events")
    body = read_json(request, required={"store_id"})
    store_id = body["store_id"]
    if isinstance(store_id, bool) or not isinstance(store_id, int) or not 0 < store_id < 2**63:
        raise ApplicationError("invalid", _("invalid store"), fields={"store_id": "a store id (a positive integer)"})
    webhook_id, answer = probe.send_test_event(
        integration=_integration(integration_id),
        store_id=store_id,
        address=request.META.get("REMOTE_ADDR") or "unknown",
    )
    return JsonResponse(
        {
            "delivered": 200 <= answer.status < 300,
            "status": answer.status,
            "webhook_id": webhook_id,
            "answer": answer.body,
        }
    )


webhook.api_methods = ("POST",)  # for the OpenAPI test, as api_view records it
