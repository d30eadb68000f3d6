"""Deferred work: run what is due, once, in any worker process.

Apps register handlers by kind; a service schedules a job inside the
transaction of the change (so a rolled-back change schedules nothing).
Every web worker runs a small loop (started by ASGI lifespan) that claims
due jobs with FOR UPDATE SKIP LOCKED, so each job runs in one worker only;
a claim is a lease, so a job whose worker died is run again later, and
handlers must be idempotent. `manage.py run_jobs` runs the same loop as a
separate process.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta

import sentry_sdk
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from tenants.models import Job

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[[int], None]] = {}
MAX_ATTEMPTS = 5


def handler(kind: str):
    """Register `func(object_id)` to run jobs of `kind`, inside the job's tenant."""

    def register(func):
        HANDLERS[kind] = func
        return func

    return register


def schedule(*, kind: str, object_id: int, due_at) -> None:
    """Queue work for the current tenant. Call inside the change's transaction."""
    tenant_pk = connection.tenant.pk
    with schema_context(get_public_schema_name()):
        Job.objects.create(tenant_id=tenant_pk, kind=kind, object_id=object_id, due_at=due_at)
    transaction.on_commit(runner.wake)


def arm(*, kind: str, object_id: int, start, delay_column: tuple[str, str]) -> bool:
    """Queue a job for the current tenant, due `start` plus the seconds in
    `delay_column` (table, column) of the tenant's row `object_id`, unless
    that delay is 0 or a pending job of this kind and object will run by
    then (it arms the next one itself); True if queued. One statement,
    inside the change's transaction.

    A pending job already due (perhaps running now) does not count: it may
    have read what it works on before this transaction committed.
    """
    table, column = delay_column
    jobs = f'"{get_public_schema_name()}".{Job._meta.db_table}'
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {jobs} (tenant_id, kind, object_id, due_at, attempts, last_error)
                SELECT %(tenant)s, %(kind)s, r.id, %(start)s + make_interval(secs => r.{column}), 0, ''
                FROM {table} r
                WHERE r.id = %(object)s AND r.{column} > 0 AND NOT EXISTS (
                    SELECT 1 FROM {jobs} j
                    WHERE j.tenant_id = %(tenant)s AND j.kind = %(kind)s AND j.object_id = r.id
                      AND j.done_at IS NULL AND j.due_at > now()
                      AND j.due_at <= %(start)s + make_interval(secs => r.{column}))
                RETURNING id""",
            {"tenant": connection.tenant.pk, "kind": kind, "object": object_id, "start": start},
        )
        return cursor.fetchone() is not None


def run_due(*, limit: int = 10) -> int:
    """Claim and run up to `limit` due jobs; return how many were claimed."""
    jobs = _claim(limit)
    for job in jobs:
        _run(job)
    return len(jobs)


def _claim(limit: int) -> list[Job]:
    now = timezone.now()
    with schema_context(get_public_schema_name()), transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
            .filter(done_at__isnull=True, due_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("due_at")[:limit]
        )
        lease = now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(claimed_until=lease, attempts=F("attempts") + 1)
    return jobs


def _run(job: Job) -> None:
    try:
        with tenant_context(job.tenant):
            HANDLERS[job.kind](job.object_id)
    except Exception as error:
        logger.exception("job %s %s of %s failed", job.kind, job.object_id, job.tenant.schema_name)
        sentry_sdk.capture_exception()
        give_up = job.attempts + 1 >= MAX_ATTEMPTS
        with schema_context(get_public_schema_name()):
            Job.objects.filter(pk=job.pk).update(
                last_error=repr(error)[:2000], done_at=timezone.now() if give_up else None
            )
        return
    with schema_context(get_public_schema_name()):
        Job.objects.filter(pk=job.pk).update(done_at=timezone.now(), last_error="")


def prune_done(*, older_than: timedelta) -> int:
    """Delete jobs that finished (done or given up) more than `older_than`
    ago, of every tenant; returns how many. A job per new order (the
    unattended-board check) makes the table grow with the orders otherwise."""
    with schema_context(get_public_schema_name()):
        deleted, _ = Job.objects.filter(done_at__lt=timezone.now() - older_than).delete()
    return deleted


def run_due_then_close() -> int:
    """`run_due` for a thread of its own (the loop's pool threads)."""
    try:
        return run_due()
    finally:
        # This runs on a pool thread that no request cycle cleans up after.
        connections.close_all()


class Runner:
    """The loop: run what is due, then sleep until the next poll or a wake-up."""

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None

    def wake(self) -> None:
        """Called after a commit that scheduled something due now (any thread)."""
        if self.loop is not None and self.event is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.event.set)

    async def run_forever(self) -> None:
        self.loop, self.event = asyncio.get_running_loop(), asyncio.Event()
        try:
            while True:
                self.event.clear()
                try:
                    # Not the consumers' shared DB thread: a delivery to
                    # thousands must not stall every socket's queries.
                    ran = await sync_to_async(run_due_then_close, thread_sensitive=False)()
                except Exception:
                    logger.exception("job runner tick failed")
                    ran = 0
                if ran:
                    continue
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.event.wait(), settings.JOBS_POLL_SECONDS)
        finally:
            self.loop = self.event = None


runner = Runner()


async def lifespan(scope, receive, send) -> None:
    """ASGI lifespan: start the job loop with the worker, stop it with the worker."""
    task = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.JOBS_IN_WEB:
                task = asyncio.create_task(runner.run_forever())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await send({"type": "lifespan.shutdown.complete"})
            return
