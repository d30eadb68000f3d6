"""ORM work from async code, always inside the right tenant's schema.

Channels' `database_sync_to_async` runs every call of a process on one
shared thread, and django-tenants keeps the active schema on the thread's
connection: a call that relied on a schema set by an earlier call could run
in another tenant's schema. Here each call enters its tenant itself, so no
call depends on which thread it lands on; that lets calls run on a pool of
threads instead of queueing on one, which is what a reconnect storm of
thousands of sockets needs. A consumer still awaits its calls one at a
time, so its own order is kept.

The sockets' threads (WS_DB_THREADS of them per process) keep their
database connection from call to call. Handing it back to the pool after
every call, as `database_sync_to_async` does, cost three round trips per
call before the call's own queries: the pool's health check at checkout,
`SET search_path` (django-tenants forgets it on every checkout and every
tenant switch) and the checkout itself; a reconnect storm spent a third of
its time there. Now a call pays for `SET search_path` only when its tenant
differs from the thread's previous call, and nothing checks a connection
before using it. It is checked on failure instead: a call that fails
because its kept connection is dead (PostgreSQL restarted, an idle
connection cut) hands that connection back (the pool drops it), and runs
again once on a fresh one, which the pool checks at checkout, but only if
none of its statements had run: nothing is done twice.
"""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from tenants.models import Tenant
from ws import reads

T = TypeVar("T")

# A broken or closed connection, as Django or psycopg (search_path is set on
# a raw cursor) raise it. A pool timeout is an OperationalError too, but it
# leaves no connection behind, so it is never retried (below).
CONNECTION_FAILURES = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)

_executor: ThreadPoolExecutor | None = None
_threads = 0
_executor_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """The process's socket DB threads (made on first use)."""
    global _executor, _threads
    with _executor_lock:
        if _executor is None:
            _threads = thread_count()
            _executor = ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="ws-db")
        return _executor


def thread_count() -> int:
    """WS_DB_THREADS, but never more than half the pool: each thread holds
    a connection for good, and HTTP requests need theirs."""
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict) and pool.get("max_size"):
        return max(1, min(settings.WS_DB_THREADS, pool["max_size"] // 2))
    return settings.WS_DB_THREADS


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


async def in_tenant(tenant: Tenant, func: Callable[..., T], /, *args, **kwargs) -> T:
    """Run `func(*args, **kwargs)` on a socket DB thread inside `tenant`'s schema.

    The thread's connection stays in that schema after the call (the next
    call on the thread enters its own)."""

    def call():
        use_tenant(tenant)  # `SET search_path` only when the tenant changes
        return func(*args, **kwargs)

    return await on_db_thread(call)


async def on_db_thread(func: Callable[[], T]) -> T:
    """Run `func()` on a socket DB thread; `func` sets its own schema."""
    return await sync_to_async(_keeping_connection, thread_sensitive=False, executor=executor())(func)


class _Statements:
    """Counts statements that ran on the connection during one call."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.count += 1
        return result


def _keeping_connection(func: Callable[[], T]) -> T:
    kept = connection.connection is not None  # a connection from an earlier call
    statements = _Statements()
    try:
        with connection.execute_wrapper(statements):
            return func()
    except CONNECTION_FAILURES:
        if connection.connection is None or connection.is_usable():
            raise  # not a dead connection (a pool timeout, a bad query): the caller decides
        connection.close()  # back to the pool, which discards a broken connection
        if not kept or statements.count:
            raise  # a fresh connection that failed, or a call that did part of its work
    # The kept connection had died since the last call: once more, on a fresh one.
    with connection.execute_wrapper(statements):
        return func()


def close_connections() -> None:
    """Close the connection of every socket DB thread, and the event loops'
    read connections (ws/reads.py) (tests: before the test database is
    truncated or dropped; a process about to stop)."""
    reads.close_connections()
    if _executor is None:
        return
    threads = _threads
    barrier = threading.Barrier(threads)

    def close():
        connection.close()
        # Hold this thread until every thread has taken one: each closes its own.
        barrier.wait(timeout=10)

    for future in [_executor.submit(close) for _ in range(threads)]:
        future.result()
