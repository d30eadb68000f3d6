"""The tenant-aware front door of every WebSocket.

For each connection: take the tenant from the Host header by the very
rule HTTP requests follow (django-tenants' middleware: validated against
ALLOWED_HOSTS, then an exact Domain match; two Host headers are refused),
require a browser's Origin to be exactly the served origin (scheme, host
and port), and find who the socket is for, inside the tenant's schema.
Channels' own AuthMiddlewareStack would look the session up with no
tenant active, in whatever schema the shared DB thread last used. The
scope gets `tenant`, `user` and `credential` (what the user signed in
with, re-checked while the socket is open: ws/access.py).

No database trip here for a connect with a session cookie, the browser's
way: the tenant comes from this worker's cache of hosts (`TenantsByHost`),
and `user` is a Channels `UserLazyObject` that the socket fills in its
first trip to the database thread, together with what it reads to open
(`JsonSocket.admit_now`): one trip per connect instead of four. A ticket is
consumed here (it is single-use, and decides alone).

Refusals accept and then close, because a close code can only be sent on
an open socket; a reject before accept reaches the client as a bare HTTP
403 with no reason.
"""

import asyncio
import logging
import threading
import time
from urllib.parse import parse_qs

from channels.auth import UserLazyObject
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host
from django_tenants.utils import get_public_schema_name, remove_www, schema_context

from platform_core import observability
from platform_core.access import Credential
from platform_core.availability import OUTAGES
from platform_core.tokens import ws_ticket_consume
from tenants.models import Domain, Tenant
from ws import close_codes
from ws.db import in_tenant, on_db_thread
from ws.loops import per_event_loop

logger = logging.getLogger(__name__)


class TenantWebsocketMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)

        headers, repeated = _headers(scope)
        host = headers.get("host", "")
        hostname = tenant_hostname(host)
        if hostname is None or "host" in repeated:
            return await refuse(receive, send, close_codes.NOT_FOUND)
        try:
            tenant = await tenants_by_host.get(hostname)
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
        if (origin is None and ticket is None) or (origin is not None and origin != served_origin(scope, host)):
            logger.info("websocket refused: origin %r is not %r", origin, served_origin(scope, host))
            return await refuse(receive, send, close_codes.FORBIDDEN)

        user, credential = AnonymousUser(), None
        try:
            if ticket is not None:
                # A ticket decides alone: a bad one is not rescued by a cookie.
                user, credential = await in_tenant(tenant, ws_ticket_consume, ticket) or (user, None)
            else:
                session_key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
                if session_key:
                    # Loaded by the socket's first trip (JsonSocket.admit_now).
                    user, credential = UserLazyObject(), Credential(session_key)
        except OUTAGES as error:
            logger.warning("websocket refused, the database is unavailable: %r", error)
            return await refuse(receive, send, close_codes.TRY_AGAIN_LATER)
        return await self.inner(dict(scope, tenant=tenant, user=user, credential=credential), receive, send)


def tenant_hostname(host: str) -> str | None:
    """The name a tenant is looked up by, from a Host header; None if the
    host is not allowed. The same rule as django-tenants' HTTP middleware
    (`request.get_host()`, then the part before ":", less a "www."): no
    case folding, no trailing-dot stripping, so a host that gets a 404 over
    HTTP gets a 4404 here."""
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return remove_www(host.split(":")[0])


def served_origin(scope, host: str) -> str:
    """The one Origin a browser sends from a page of this host: wss is
    served to https pages (behind a TLS proxy uvicorn takes the scheme from
    X-Forwarded-Proto), ws to http ones."""
    return f"{'https' if scope.get('scheme') == 'wss' else 'http'}://{host}"


def tenant_for_hostname(hostname: str) -> Tenant | None:
    """The tenant serving `hostname`; None for unknown hosts and the public schema."""
    with schema_context(get_public_schema_name()):
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None or domain.tenant.schema_name == get_public_schema_name():
        return None
    return domain.tenant


class TenantsByHost:
    """This worker's record of which tenant serves which host name (None:
    no tenant), each entry trusted for TENANT_CACHE_SECONDS.

    Saving or deleting a Domain or Tenant in this process empties it at
    once (the receivers below); a change made in another process is seen
    here once the entry is older than TENANT_CACHE_SECONDS. Host names
    are bounded by ALLOWED_HOSTS, but a wildcard there lets a client make
    up many: past MAX_ENTRIES the record starts again.
    """

    MAX_ENTRIES = 10_000

    def __init__(self):
        self.entries: dict[str, tuple[float, Tenant | None]] = {}
        # Bumped by every change: a lookup that was under way when a change
        # came must not store what it read before it.
        self.generation = 0
        self.lock = threading.Lock()
        self.lookups = per_event_loop(dict)  # host name → the lookup under way

    async def get(self, hostname: str) -> Tenant | None:
        entry = self.entries.get(hostname)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        # One lookup per host at a time: when an entry expires in a storm,
        # the hundreds of handshakes in flight wait for the same query
        # instead of each making its own.
        lookups = self.lookups()
        lookup = lookups.get(hostname)
        if lookup is None:
            lookup = asyncio.ensure_future(self._look_up(hostname))
            lookups[hostname] = lookup
            lookup.add_done_callback(lambda _: lookups.pop(hostname, None))
        return await asyncio.shield(lookup)

    async def _look_up(self, hostname: str) -> Tenant | None:
        generation = self.generation
        tenant = await on_db_thread(lambda: tenant_for_hostname(hostname))
        with self.lock:
            if generation == self.generation:
                if len(self.entries) >= self.MAX_ENTRIES:
                    self.entries.clear()
                self.entries[hostname] = (time.monotonic() + settings.TENANT_CACHE_SECONDS, tenant)
        return tenant

    def forget(self) -> None:
        with self.lock:
            self.generation += 1
            self.entries.clear()


tenants_by_host = TenantsByHost()


@receiver(post_save, sender=Domain, dispatch_uid="ws.middleware.domain_saved")
@receiver(post_delete, sender=Domain, dispatch_uid="ws.middleware.domain_deleted")
@receiver(post_save, sender=Tenant, dispatch_uid="ws.middleware.tenant_saved")
@receiver(post_delete, sender=Tenant, dispatch_uid="ws.middleware.tenant_deleted")
def _hosts_changed(sender, **kwargs):
    # Now, and again once the change is visible to other connections: a
    # lookup between the two would have read the row as it was.
    tenants_by_host.forget()
    transaction.on_commit(tenants_by_host.forget)


async def refuse(receive, send, code: int) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


def _headers(scope) -> tuple[dict[str, str], set[str]]:
    """The headers, and the names sent more than once. Of a repeated header
    the first wins, except cookies, which browsers may split."""
    result: dict[str, str] = {}
    repeated: set[str] = set()
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin1").lower(), raw_value.decode("latin1")
        if name in result:
            repeated.add(name)
        if name == "cookie" and name in result:
            result[name] += "; " + value
        else:
            result.setdefault(name, value)
    return result, repeated
