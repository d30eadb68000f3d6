"""The cast of every test: tenants with colliding ids, their stores and
people, sessions, and the writes tests make (orders, comments,
notifications). Plain functions; tests/conftest.py turns some into fixtures.

Both tenants hold stores 1 and 2 and users with the same ids (101–105), so
a check that forgot the tenant would find the other tenant's row.
"""

import functools
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django_tenants.utils import get_public_schema_name, tenant_context

from tenants.models import Domain, Tenant

TENANT_HOSTS = {"acme": "acme.localhost", "globex": "globex.localhost"}
PASSWORD = "correct-horse-battery"
CAST_IDS = {"admin": 101, "staff1": 102, "staff2": 103, "customer": 104, "manager1": 105}


# --- tenants -----------------------------------------------------------------------
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


def empty_tenant_schemas() -> None:
    """Delete every row of the tenants' schemas and restart their sequences
    (ids from 1 again), in one round trip. DELETE, not TRUNCATE: TRUNCATE
    makes new files for each of the ~80 tables and cost 0.27 s, twice per
    transactional test; these tables hold a test's few rows. A database
    role that may not switch keys off (`deleting_with_keys_off`) gets the
    slower TRUNCATE."""
    with connection.cursor() as cursor:
        cursor.execute(_emptying_sql())


@functools.cache
def keys_can_be_switched_off() -> bool:
    """Whether this role may set `session_replication_role` (superusers only)."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW is_superuser")
        return cursor.fetchone()[0] == "on"


def deleting_with_keys_off(tables: list[str], *also: str) -> list[str]:
    """Statements deleting every row of `tables` (quoted names), then `also`,
    with foreign keys and triggers off meanwhile: the order of the tables
    does not matter and no counter trigger fires. Needs a superuser."""
    deletes = [f"DELETE FROM {table}" for table in tables]
    return ["SET session_replication_role = replica", *deletes, *also, "SET session_replication_role = DEFAULT"]


@functools.cache
def _emptying_sql() -> str:
    """The statements, worked out once per process (the schemas' tables do not change)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT format('%%I.%%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_schema = ANY(%s) AND table_type = 'BASE TABLE' AND table_name <> 'django_migrations'",
            [list(TENANT_HOSTS)],
        )
        tables = [table for (table,) in cursor.fetchall()]
    if not keys_can_be_switched_off():
        return f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
    schemas = ", ".join(f"'{schema}'" for schema in TENANT_HOSTS)  # our own constants
    restart = (
        "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) "
        f"FROM pg_sequences WHERE schemaname IN ({schemas}) AND sequencename <> 'django_migrations_id_seq'"
    )
    return ";\n".join(deleting_with_keys_off(tables, restart))


# --- people ------------------------------------------------------------------------
def make_user(tenant: Tenant, username: str, **fields):
    with tenant_context(tenant):
        return get_user_model().objects.create_user(username=username, password=PASSWORD, **fields)


def session_cookie(tenant: Tenant, user) -> str:
    """A real session of `user`, stored in `tenant`'s schema, as a Cookie header value."""
    with tenant_context(tenant):
        client = Client()
        client.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


login_cookie = sync_to_async(session_cookie)


@dataclass
class Cast:
    """One tenant's stores and people. staff1 and manager1 are staff of
    store 1, staff2 of store 2; admin is the tenant admin (staff of no
    store); customer has no store."""

    tenant: Tenant
    store1: object
    store2: object
    admin: object
    staff1: object
    staff2: object
    customer: object
    manager1: object


def make_cast(tenant: Tenant) -> Cast:
    from stores.models import StaffMembership, Store

    schema = tenant.schema_name
    with tenant_context(tenant):
        store1 = Store.objects.create(id=1, name=f"{schema} one")
        store2 = Store.objects.create(id=2, name=f"{schema} two")
    people = {
        username: make_user(tenant, username, id=user_id, is_tenant_admin=username == "admin")
        for username, user_id in CAST_IDS.items()
    }
    with tenant_context(tenant):
        StaffMembership.objects.create(user=people["staff1"], store=store1)
        StaffMembership.objects.create(user=people["staff2"], store=store2)
        StaffMembership.objects.create(user=people["manager1"], store=store1, role="manager")
    return Cast(tenant=tenant, store1=store1, store2=store2, **people)


class World:
    """acme and globex, each with the same cast (`world.acme.staff1` and
    `world.globex.staff1` share a user id and a store id), and a platform
    operator (public schema) with the same id as the admins."""

    def __init__(self, tenants: dict[str, Tenant]):
        self.tenants = tenants
        self.public = Tenant.objects.get(schema_name=get_public_schema_name())
        self.operator = make_user(self.public, "operator", id=CAST_IDS["admin"], is_staff=True, is_superuser=True)
        self.acme = make_cast(tenants["acme"])
        self.globex = make_cast(tenants["globex"])


# --- what tests write ------------------------------------------------------------------
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


def notify(tenant, user, title, **fields):
    """A system notification for `user`, as the product stores and pushes it."""
    from alerts.models import Notification
    from alerts.services import notification_create

    with tenant_context(tenant):
        return notification_create(recipient=user, kind=Notification.Kind.SYSTEM, title=title, **fields)


def mark_read(tenant, notification):
    from alerts.models import Notification

    with tenant_context(tenant):
        Notification.objects.filter(pk=notification.pk).update(read_at="2026-01-01T00:00:00Z")


anotify, aread = sync_to_async(notify), sync_to_async(mark_read)


def stream_seqs(tenant, store_id: int = 1) -> list[int]:
    """The seqs stored in a store's stream, in order."""
    from orders.models import StoreEvent

    with tenant_context(tenant):
        return list(StoreEvent.objects.filter(store_id=store_id).order_by("seq").values_list("seq", flat=True))
