import asyncio
import logging
import uuid

from asgiref.sync import async_to_sync
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ws.layer import channel_layer

logger = logging.getLogger(__name__)

HEALTH_TIMEOUT_SECONDS = 2.0


@never_cache
@require_GET
def healthz(request):
    """200 when the database and the channel layer both answer, else 503."""
    checks = {"database": _database_ok(), "channel_layer": _channel_layer_ok()}
    healthy = all(checks.values())
    body = {"status": "ok" if healthy else "unavailable", "checks": {k: "ok" if v else "fail" for k, v in checks.items()}}
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

    async def round_trip():
        layer = channel_layer()
        channel = await layer.new_channel(prefix="healthz.")
        token = uuid.uuid4().hex
        await layer.send(channel, {"type": "healthz", "token": token})
        received = await layer.receive(channel)
        return received.get("token") == token

    try:
        return async_to_sync(asyncio.wait_for)(round_trip(), HEALTH_TIMEOUT_SECONDS)
    except Exception:
        logger.warning("healthz: channel layer check failed", exc_info=True)
        return False


@login_required
def home(request):
    return render(request, "home.html")


def public_home(request):
    return render(request, "public_home.html")
