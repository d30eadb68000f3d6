"""ASGI entry point: HTTP goes to Django, WebSockets to the tenant-aware stack."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before anything imports models (consumers do).
from django.core.asgi import get_asgi_application  # noqa: E402

django_http = get_asgi_application()

from platform_core import observability  # noqa: E402

# uvicorn configured its logging before importing this module, and Django
# has just applied LOGGING: both sets of handlers exist now. uvicorn logs
# request lines and socket handshakes with their query string (`?ticket=`).
observability.redact_credentials_in_logs()

from django.conf import settings  # noqa: E402

if settings.UVICORN_LOG_CEILING:
    observability.uvicorn_logs_at(settings.UVICORN_LOG_CEILING)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from orders.integrations.edge import WebhookEdge  # noqa: E402
from platform_core import jobs  # noqa: E402
from platform_core.body_limits import BodyLimits  # noqa: E402
from platform_core.sign_in import SignInGate  # noqa: E402
from ws.middleware import TenantWebsocketMiddleware  # noqa: E402

# Outermost, bodies over their route's limit are refused before anything
# else is done for them; then signed webhooks are answered from the event
# loop and applied in batches (orders/integrations/edge.py); then sign-ins
# wait their turn. The paths are those of config/urls.py and
# config/urls_public.py.
http = BodyLimits(
    WebhookEdge(SignInGate(django_http, paths=["/accounts/login/", "/admin/login/"])),
    routes=[
        (r"/api/integrations/[0-9]+/webhook$", "WEBHOOK_MAX_BODY_BYTES"),
        (r"/api/", "API_MAX_BODY_BYTES"),
        (r"/(accounts|admin)/", "FORM_MAX_BODY_BYTES"),
    ],
    default="DEFAULT_MAX_BODY_BYTES",
)

protocols = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": TenantWebsocketMiddleware(URLRouter(websocket_urlpatterns)),
    }
)


# The collector, tuned for a server holding thousands of sockets. With
# Python's default (a collection every 700 net allocations), a connect
# storm spent a third of the event loop in `gc_collect_main` (py-spy), and
# every full collection walked the whole app again: Django, the URL
# conf, the ORM's models. Those live as long as the worker: frozen, no
# collection looks at them again; and the young generation is collected
# every 50,000 allocations instead of 700. Cycles are still freed, a few
# MB later (docs/performance.md, "The garbage collector").
gc.freeze()
gc.set_threshold(50_000, 20, 100)  # (young, middle, old); Python's: (700, 10, 10)


async def application(scope, receive, send):
    # Lifespan starts the deferred-job loop with each worker process.
    if scope["type"] == "lifespan":
        return await jobs.lifespan(scope, receive, send)
    return await protocols(scope, receive, send)


if settings.SENTRY_DSN:
    # Reports exceptions raised in consumers too, which Django's own
    # integration never sees.
    from sentry_sdk.integrations.asgi import SentryAsgiMiddleware

    application = SentryAsgiMiddleware(application)
