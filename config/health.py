"""`/healthz`: is this process able to serve? Composition of the layers
below: the database (Django) and the channel layer (ws), so it lives here.

200 with JSON when both answer, 503 otherwise; answered before tenant
routing, on any Host (see HealthCheckMiddleware).
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ws.layer import layer_round_trip

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 2.0


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the channel layer both answer, else 503."""
    checks = {"database": _database_ok(), "channel_layer": _channel_layer_ok()}
    healthy = all(checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "checks": {k: "ok" if v else "fail" for k, v in checks.items()},
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.warning("healthz: database check failed", exc_info=True)
        return False


def _channel_layer_ok() -> bool:
    """A round trip through the layer: send to a private channel, read it back."""
    try:
        return async_to_sync(asyncio.wait_for)(layer_round_trip(), HEALTH_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("healthz: channel layer check failed", exc_info=True)
        return False


class HealthCheckMiddleware:
    """Answer `/healthz` before tenant routing.

    django-tenants resolves the tenant from the database; with the database
    down that would raise (a 500) instead of the 503 that tells a load
    balancer what is wrong. Health is a property of the process, not of a
    tenant, so it answers on any Host: load balancers and orchestrators
    probe by the instance's IP, which is in no ALLOWED_HOSTS. It reveals
    nothing but "ok"/"fail" per dependency. Probes come over plain HTTP:
    the HTTPS redirect (SecurityMiddleware, outside this one) exempts this
    path (SECURE_REDIRECT_EXEMPT), since redirecting would need an allowed
    Host.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return healthz(request)
        return self.get_response(request)
