"""The tenant-aware front door of every WebSocket.

For each connection: take the tenant from the Host header (validated
against ALLOWED_HOSTS), require a browser's Origin to be that same host,
and load the user from the session cookie inside the tenant's schema.
Channels' own AuthMiddlewareStack would look the session up with no
tenant active, in whatever schema the shared DB thread last used.

Refusals accept and then close, because a close code can only be sent on
an open socket; a reject before accept reaches the client as a bare HTTP
403 with no reason.
"""

import logging
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, schema_context

from platform_core import observability
from platform_core.availability import OUTAGES
from platform_core.tokens import ws_ticket_consume
from tenants.models import Domain, Tenant
from ws import close_codes
from ws.db import in_tenant, on_db_thread

logger = logging.getLogger(__name__)


class TenantWebsocketMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)

        headers = _headers(scope)
        host = headers.get("host", "")
        hostname, _port = split_domain_port(host)
        if not hostname or not validate_host(hostname, settings.ALLOWED_HOSTS):
            return await refuse(receive, send, close_codes.NOT_FOUND)
        try:
            tenant = await on_db_thread(lambda: tenant_for_hostname(hostname))
        except OUTAGES as error:
            logger.warning("websocket refused, the database is unavailable: %r", error)
            return await refuse(receive, send, close_codes.TRY_AGAIN_LATER)
        if tenant is None:
            return await refuse(receive, send, close_codes.NOT_FOUND)
        observability.tag_tenant(tenant.schema_name)

        # Browsers always send Origin; a page of another tenant or another
        # site must not ride on this tenant's session cookie. A client with a
        # ticket (no ambient credential) may omit it, but not send a wrong one.
        ticket = parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket", [None])[0]
        origin = headers.get("origin")
        if (origin is None and ticket is None) or (origin is not None and urlsplit(origin).netloc.lower() != host.lower()):
            logger.info("websocket refused: origin %r does not match host %r", origin, host)
            return await refuse(receive, send, close_codes.FORBIDDEN)

        try:
            if ticket is not None:
                # A ticket decides alone: a bad one is not rescued by a cookie.
                user = await in_tenant(tenant, ws_ticket_consume, ticket) or AnonymousUser()
            else:
                session_key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
                user = await in_tenant(tenant, user_for_session, session_key) if session_key else AnonymousUser()
        except OUTAGES as error:
            logger.warning("websocket refused, the database is unavailable: %r", error)
            return await refuse(receive, send, close_codes.TRY_AGAIN_LATER)
        return await self.inner(dict(scope, tenant=tenant, user=user), receive, send)


def tenant_for_hostname(hostname: str) -> Tenant | None:
    """The tenant serving `hostname`; None for unknown hosts and the public schema."""
    with schema_context(get_public_schema_name()):
        domain = Domain.objects.select_related("tenant").filter(domain=hostname.lower()).first()
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    return domain.tenant


def user_for_session(session_key: str):
    """The session's user, or AnonymousUser. The tenant's schema must be active.

    Uses Django's own `get_user`, so a session whose password hash no longer
    matches (password changed, logged out elsewhere) is anonymous here too.
    """
    request = HttpRequest()
    request.session = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
    return get_user(request)


async def refuse(receive, send, code: int) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


def _headers(scope) -> dict[str, str]:
    # Duplicate headers: the first wins, except cookies, which browsers may split.
    result: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin1").lower(), raw_value.decode("latin1")
        if name == "cookie" and name in result:
            result[name] += "; " + value
        else:
            result.setdefault(name, value)
    return result
