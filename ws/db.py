"""ORM work from async code, always inside the right tenant's schema.

Every `database_sync_to_async` call of a process runs on one shared
thread, and django-tenants keeps the active schema on that thread's
connection. A call that relied on a schema set by an earlier call could
run in another tenant's schema, so each call enters the tenant itself.
"""

from collections.abc import Callable
from typing import TypeVar

from channels.db import database_sync_to_async
from django_tenants.utils import tenant_context

from tenants.models import Tenant

T = TypeVar("T")


async def in_tenant(tenant: Tenant, func: Callable[..., T], /, *args, **kwargs) -> T:
    """Run `func(*args, **kwargs)` on the DB thread inside `tenant`'s schema."""

    def call():
        with tenant_context(tenant):
            return func(*args, **kwargs)

    return await database_sync_to_async(call)()
