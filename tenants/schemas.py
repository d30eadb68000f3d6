"""The active tenant of this thread's connection, switched only when it changes."""

from django.db import connection

from tenants.models import Tenant


def use_tenant(tenant: Tenant) -> None:
    """Make `tenant` the schema of this thread's connection, and leave it
    there (for threads whose every call enters its own tenant: the sockets'
    DB threads, the webhook batchers).

    django-tenants forgets the `search_path` it set on every `set_tenant`,
    even to the same tenant, and `tenant_context` sets two (in, then back):
    every entry paid a `SET search_path` round trip. Here the connection
    keeps the one it has when the tenant is the same. It still forgets it
    on close, rollback and savepoint rollback, so the path is never stale.
    """
    if connection.schema_name != tenant.schema_name or getattr(connection.tenant, "pk", None) != tenant.pk:
        connection.set_tenant(tenant)
