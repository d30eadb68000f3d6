"""Error reporting to Sentry (or any Sentry-compatible endpoint).

Each event is tagged with the tenant (set by the HTTP middleware below and
by the socket front door, ws/middleware.py). Nothing secret leaves: no
cookies or user details (send_default_pii off), request fields and headers
named like secrets are filtered by the SDK's scrubber (extended with ours),
and credentials in query strings (`?ticket=`) are blanked before sending.
"""

import re

import sentry_sdk
from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

# Beyond the SDK's list: our own secret-bearing names.
DENYLIST = DEFAULT_DENYLIST + [
    "credential", "plaintext", "ticket", "webhook-signature", "webhook_signature", "secret_key", "whsec",
]
# `name=value` in any string of the event (query strings, a local `scope`).
_QUERY_SECRET = re.compile(r"(\b(?:ticket|token|password|secret|api_key)=)[^&'\"\s]*", re.IGNORECASE)


def init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        event_scrubber=EventScrubber(denylist=DENYLIST, recursive=True),
        before_send=_scrub_event,
    )


def _scrub_event(event, hint):
    return _blank(event)


def _blank(value):
    if isinstance(value, str):
        return _QUERY_SECRET.sub(r"\1[Filtered]", value) if "=" in value else value
    if isinstance(value, dict):
        return {key: _blank(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_blank(item) for item in value]
    return value


def tag_tenant(schema_name: str) -> None:
    """Tag events of the current request or socket with its tenant."""
    sentry_sdk.set_tag("tenant", schema_name)


class SentryTenantMiddleware:
    """After django-tenants' middleware: tag this request's events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None:
            tag_tenant(tenant.schema_name)
        return self.get_response(request)
