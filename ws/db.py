"""ORM work from async code, always inside the right tenant's schema.

Channels' `database_sync_to_async` runs every call of a process on one
shared thread, and django-tenants keeps the active schema on the thread's
connection: a call that relied on a schema set by an earlier call could run
in another tenant's schema. Here each call enters its tenant itself, so no
call depends on which thread it lands on; that lets calls run on a pool of
threads (each with its own pooled connection) instead of queueing on one,
which is what a reconnect storm of thousands of sockets needs. A consumer
still awaits its calls one at a time, so its own order is kept.
"""

from collections.abc import Callable
from typing import TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django_tenants.utils import tenant_context

from tenants.models import Tenant

T = TypeVar("T")


async def in_tenant(tenant: Tenant, func: Callable[..., T], /, *args, **kwargs) -> T:
    """Run `func(*args, **kwargs)` on a worker thread inside `tenant`'s schema."""

    def call():
        with tenant_context(tenant):
            return func(*args, **kwargs)

    return await on_db_thread(call)


async def on_db_thread(func: Callable[[], T]) -> T:
    """Run `func()` on a worker thread; `func` sets its own schema."""

    def call():
        # As database_sync_to_async does: drop connections that are broken
        # or past their age, before and after (with the pool, "close"
        # returns the connection to the pool).
        close_old_connections()
        try:
            return func()
        finally:
            close_old_connections()

    return await sync_to_async(call, thread_sensitive=False)()
