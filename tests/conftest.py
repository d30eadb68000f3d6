"""Fixtures: tenants with colliding ids, users, sessions and sockets.

Tenant schemas are created and migrated once per session. Transactional
tests (needed for consumers, whose DB thread must see committed rows)
truncate the public tables at teardown, so tenant rows are recreated per
test (their schemas are kept), and tenant tables are truncated with
identities restarted, so such a test starts with ids from 1 in both
tenants. Plain tests that need colliding ids pass the id explicitly.
"""

import contextlib

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import get_public_schema_name, tenant_context

from config.asgi import application
from tenants.models import Domain, Tenant

TENANT_HOSTS = {"acme": "acme.localhost", "globex": "globex.localhost"}
PASSWORD = "correct-horse-battery"


def ensure_tenants() -> dict[str, Tenant]:
    connection.set_schema_to_public()
    public, _ = Tenant.objects.get_or_create(schema_name=get_public_schema_name(), defaults={"name": "Operators"})
    Domain.objects.get_or_create(domain="localhost", defaults={"tenant": public, "is_primary": True})
    tenants = {}
    for schema, host in TENANT_HOSTS.items():
        tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is None:
            tenant = Tenant(schema_name=schema, name=schema.title())
            tenant.save(verbosity=0)  # migrates the schema only if it does not exist yet
        Domain.objects.get_or_create(domain=host, defaults={"tenant": tenant, "is_primary": True})
        tenants[schema] = tenant
    return tenants


def truncate_tenant_schemas() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' AND table_name <> 'django_migrations'",
            [list(TENANT_HOSTS)],
        )
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        ensure_tenants()


@pytest.fixture(autouse=True)
def _clean_tenant_schemas(request, django_db_blocker):
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction"))
    if transactional:
        # Rolled-back tests still advance sequences: restart them so ids
        # start from 1 in both tenants (colliding on purpose).
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            truncate_tenant_schemas()
    yield
    if transactional:
        # sync_to_async / database_sync_to_async calls made from async tests
        # and consumers all ran on asgiref's one shared thread; its
        # connection would keep the test database from being dropped.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            truncate_tenant_schemas()


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
    def make(tenant: Tenant, username: str, **fields):
        with tenant_context(tenant):
            return get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)

    return make


@pytest.fixture
def customer(acme, make_user):
    return make_user(acme, "customer")


@pytest.fixture
def globex_twin(globex, customer, make_user):
    """A globex user with the very same id as acme's `customer`: another person."""
    return make_user(globex, "globex-customer", id=customer.pk)


def session_cookie(tenant: Tenant, user) -> str:
    """A real session of `user`, stored in `tenant`'s schema, as a Cookie header value."""
    with tenant_context(tenant):
        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


login_cookie = sync_to_async(session_cookie)


class Socket:
    """A WebSocket client on the full ASGI app (middleware included)."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator

    async def receive(self, timeout: float = 2) -> dict:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def send(self, message: dict) -> None:
        await self.communicator.send_json_to(message)

    async def send_text(self, text: str) -> None:
        # Raw input: send_to() refuses an empty frame, which a client can send.
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def closed_with(self, timeout: float = 2) -> int:
        """Wait for the server to close; return the close code."""
        message = await self.communicator.receive_output(timeout=timeout)
        assert message["type"] == "websocket.close", message
        return message.get("code", 1000)

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def next_or_none(self, timeout: float = 0.3) -> dict | None:
        """The next frame, or None if none comes in time. (A timeout in
        receive() would cancel the application, as asgiref's testing does.)"""
        if await self.communicator.receive_nothing(timeout=timeout):
            return None
        return await self.receive()


@pytest.fixture
async def open_socket():
    """open_socket(path, host=..., origin=..., cookie=...) → Socket.

    Closes every socket at teardown, then the DB thread's connections (the
    consumers' queries ran there; an open connection would keep the test
    database from being dropped).
    """
    communicators = []

    async def open_(path: str, *, host: str = "acme.localhost", origin: str | None = "", cookie: str | None = None):
        headers = [(b"host", host.encode())]
        if origin == "":
            origin = f"http://{host}"
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        if cookie:
            headers.append((b"cookie", cookie.encode()))
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


# --- stores and orders, with the same ids in both tenants ----------------------
class World:
    """acme and globex, each with stores 1 and 2 and the same cast of users.

    `world.acme.staff1` is staff of acme's store 1; `world.globex.staff1`
    of globex's store 1, with the same user id and store id. `world.operator`
    is a platform operator (public schema), with the same id as the admins.
    """

    def __init__(self, tenants, make_user):
        from stores.models import StaffMembership, Store

        self.tenants = tenants
        self.public = Tenant.objects.get(schema_name=get_public_schema_name())
        self.operator = make_user(self.public, "operator", id=_CAST_IDS["admin"], is_staff=True, is_superuser=True)
        for schema, tenant in tenants.items():
            cast = type("Cast", (), {})()
            cast.tenant = tenant
            with tenant_context(tenant):
                cast.store1 = Store.objects.create(id=1, name=f"{schema} one")
                cast.store2 = Store.objects.create(id=2, name=f"{schema} two")
            for username in ("admin", "staff1", "staff2", "customer", "manager1"):
                setattr(cast, username, make_user(tenant, username, id=_CAST_IDS[username], is_tenant_admin=username == "admin"))
            with tenant_context(tenant):
                StaffMembership.objects.create(user=cast.staff1, store=cast.store1)
                StaffMembership.objects.create(user=cast.staff2, store=cast.store2)
                StaffMembership.objects.create(user=cast.manager1, store=cast.store1, role="manager")
            setattr(self, schema, cast)


_CAST_IDS = {"admin": 101, "staff1": 102, "staff2": 103, "customer": 104, "manager1": 105}


@pytest.fixture
def world(tenants, make_user) -> World:
    return World(tenants, make_user)


def create_order(tenant, *, store_id=1, external_id=None, customer=None, total="10.00", **fields):
    from orders.models import Order
    from orders.services import order_create

    with tenant_context(tenant):
        external_id = external_id or f"EXT-{Order.objects.count() + 1}-{store_id}"
        return order_create(store_id=store_id, external_id=external_id, total=total, customer=customer, **fields)


def change_status(tenant, order, status):
    from orders.services import order_change_status

    with tenant_context(tenant):
        return order_change_status(order_id=order.pk, status=status)


def add_comment(tenant, order, author, body):
    from orders.services import order_comment_add

    with tenant_context(tenant):
        return order_comment_add(order_id=order.pk, author=author, body=body)


@pytest.fixture
def product_server(world):
    """The product under uvicorn (tests/servers.py), on the test database, with `world` in it."""
    from tests.servers import uvicorn_server

    with uvicorn_server() as server:
        yield server
    connections.close_all()
