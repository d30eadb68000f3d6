"""Fixtures: tenants with colliding ids, users, sessions, sockets, servers,
and what was published. The cast and the writes tests make are plain
functions in tests/factories.py; socket clients are in tests/sockets.py.

Tenant schemas are created and migrated once per session. Transactional
tests (needed for consumers, whose DB thread must see committed rows)
empty the public tables at teardown, so tenant rows are recreated per
test (their schemas are kept), and the tenant tables are emptied with
their sequences restarted, so such a test starts with ids from 1 in both
tenants. Plain tests that need colliding ids pass the id explicitly.
"""

import asyncio
import contextlib
import dataclasses
import json

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, connections

from config.asgi import application
from tenants.models import Tenant
from tests import factories
from tests.factories import (
    World,
    deleting_with_keys_off,
    empty_tenant_schemas,
    ensure_tenants,
    keys_can_be_switched_off,
)
from tests.sockets import Socket, headers_for
from ws import db as ws_db
from ws.middleware import tenants_by_host


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_tenants()


@pytest.fixture(scope="session", autouse=True)
def _quick_flush():
    """pytest-django empties the public tables after each transactional test
    with Django's `flush`: a TRUNCATE of every table, then `post_migrate`
    (content types and permissions made again). Together 0.3 s a test, for
    a few rows (tenants, domains) and for content types nothing here reads
    (the tenant schemas' own are emptied too, below). Here: DELETEs with
    foreign keys off (a role that may not: the TRUNCATE), and no
    `post_migrate`."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.management.commands import flush

    originals = flush.sql_flush, flush.emit_post_migrate_signal

    def sql_flush(style, connection, reset_sequences=True, allow_cascade=False):
        if reset_sequences or not keys_can_be_switched_off():
            return originals[0](style, connection, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
        return deleting_with_keys_off([connection.ops.quote_name(table) for table in tables])

    flush.sql_flush = sql_flush
    flush.emit_post_migrate_signal = lambda *args, **kwargs: ContentType.objects.clear_cache()
    yield
    flush.sql_flush, flush.emit_post_migrate_signal = originals


# Whether the tenant schemas are as `empty_tenant_schemas` leaves them: no
# row, every sequence at its start. A rolled-back test still advances them.
_schemas_empty = {"now": False}


@pytest.fixture(autouse=True)
def _clean_tenant_schemas(request, django_db_blocker):
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if transactional and not _schemas_empty["now"]:
        # ids start from 1 in both tenants (colliding on purpose).
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            empty_tenant_schemas()
    _schemas_empty["now"] = False
    yield
    if transactional:
        # sync_to_async / database_sync_to_async calls made from async tests
        # and consumers all ran on asgiref's one shared thread; its
        # connection would keep the test database from being dropped.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        # The sockets' DB threads keep theirs from call to call (ws/db.py).
        ws_db.close_connections()
        # Tenants and domains are made again by the next test, with new ids.
        tenants_by_host.forget()
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            empty_tenant_schemas()
        _schemas_empty["now"] = True


@pytest.fixture
def tenants(db) -> dict[str, Tenant]:
    return ensure_tenants()


@pytest.fixture
def acme(tenants) -> Tenant:
    return tenants["acme"]


@pytest.fixture
def globex(tenants) -> Tenant:
    return tenants["globex"]


@pytest.fixture
def make_user(tenants):
    return factories.make_user


@pytest.fixture
def customer(acme, make_user):
    return make_user(acme, "customer")


@pytest.fixture
def globex_twin(globex, customer, make_user):
    """A globex user with the very same id as acme's `customer`: another person."""
    return make_user(globex, "globex-customer", id=customer.pk)


@pytest.fixture
async def open_socket():
    """open_socket(path, host=..., origin=..., cookie=...) → Socket.

    Closes every socket at teardown, then the DB thread's connections (the
    consumers' queries ran there; an open connection would keep the test
    database from being dropped).
    """
    communicators = []

    async def open_(
        path: str,
        *,
        host: str = "acme.localhost",
        origin: str | None = "",
        cookie: str | None = None,
        accept_language: str | None = None,
    ):
        headers = headers_for(host, origin, cookie)
        if accept_language is not None:
            headers.append((b"accept-language", accept_language.encode()))
        communicator = WebsocketCommunicator(application, path, headers=headers)
        communicators.append(communicator)
        connected, _ = await communicator.connect()
        assert connected, "the server always accepts, then closes with a code when it refuses"
        return Socket(communicator)

    yield open_
    for communicator in communicators:
        # A socket the server closed, or a test that failed midway, leaves a
        # finished application behind: its outcome was already asserted.
        with contextlib.suppress(BaseException):
            await communicator.disconnect()
    await database_sync_to_async(connections.close_all)()
    await asyncio.to_thread(ws_db.close_connections)


@pytest.fixture
def world(tenants) -> World:
    return World(tenants)


@dataclasses.dataclass(frozen=True)
class Published:
    group: str
    text: str
    seq: int | None = None
    extra: dict | None = None  # what travels beside the text (a notification's params)

    @property
    def frame(self) -> dict:
        return json.loads(self.text)


@pytest.fixture
def product_server(world):
    """The product under uvicorn (tests/servers.py), on the test database, with `world` in it."""
    from tests.servers import uvicorn_server

    with uvicorn_server() as server:
        yield server
    connections.close_all()


@pytest.fixture
def published(monkeypatch) -> list[Published]:
    """Everything `ws.layer` sends from now on, in order, as it sends it (it
    is still sent): tests assert on what was published without listening
    on the channel layer."""
    from ws import layer

    sent: list[Published] = []
    publish_now, publish_many_now = layer.publish_now, layer.publish_many_now

    def recording_publish_now(group, text, *, seq=None, extra=None):
        sent.append(Published(group, text, seq, extra))
        return publish_now(group, text, seq=seq, extra=extra)

    def recording_publish_many_now(messages, **kwargs):
        sent.extend(Published(group, text, *rest) for group, text, *rest in messages)
        return publish_many_now(messages, **kwargs)

    monkeypatch.setattr(layer, "publish_now", recording_publish_now)
    monkeypatch.setattr(layer, "publish_many_now", recording_publish_many_now)
    return sent


# --- Web Push -------------------------------------------------------------------------
@pytest.fixture
def push_stand_in():
    """A local push service (tests/push_service.py), for this test."""
    from tests.push_service import push_service

    with push_service() as service:
        yield service


@pytest.fixture
def push_keys(settings, push_stand_in) -> str:
    """Web Push on in this process: a fresh VAPID pair, and the stand-in
    among the push services we may POST to. Returns the public key."""
    from platform_core import vapid

    private, public = vapid.generate()
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    settings.VAPID_SUBJECT = "mailto:ops@pregon.test"
    settings.WEB_PUSH_HOSTS = [*settings.WEB_PUSH_HOSTS, push_stand_in.allowed_host]
    return public


@pytest.fixture
def inbox(settings):
    """A real SMTP server (tests/smtp.py), and Django's mail pointed at it."""
    from tests.smtp import point_django_at, smtp_server

    with smtp_server() as inbox:
        point_django_at(settings, inbox.email_url)
        yield inbox
