"""Deferred work: run what is due, once, in any worker process.

Apps register handlers by kind; a service schedules a job inside the
transaction of the change (so a rolled-back change schedules nothing).
Every web worker runs a small loop (started by ASGI lifespan) that claims
due jobs with FOR UPDATE SKIP LOCKED, so each job runs in one worker only;
a claim is a lease, so a job whose worker died is run again later, and
handlers must be idempotent. `manage.py run_jobs` runs the same loop as a
separate process (the Procfile's `worker`).

A handler that raises is run again after JOB_RETRY_SECONDS, doubling each
time, up to JOB_MAX_ATTEMPTS runs; then its `on_give_up(object_id)` runs
(an off-site delivery records it failed). Periodic work (`periodic`:
retention, e-mail digests) is a platform job, one pending row per kind for
all workers (a unique index), run in the public schema, each run queueing
the next. Why this and not procrastinate: docs/architecture.md.

Time is `platform_core.clock.now()`, which tests move forward.
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
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from platform_core import clock
from tenants.models import Job, Tenant

logger = logging.getLogger(__name__)

HANDLERS: dict[str, Callable[[int], None]] = {}
GIVE_UP: dict[str, Callable[[int], None]] = {}
# Kinds that wait on other services (pushes) run in a lane of their own:
# each lane is its own loop, so a slow push service never holds up
# announcements, digests or the unattended-board checks.
DEFAULT_LANE = "default"
LANES: dict[str, str] = {}
PERIODIC: dict[str, timedelta] = {}


def handler(kind: str, *, on_give_up: Callable[[int], None] | None = None, lane: str = DEFAULT_LANE):
    """Register `func(object_id)` to run jobs of `kind`, inside the job's
    tenant; `on_give_up(object_id)`, in the same tenant, after its last
    failed attempt. `lane`: which of the worker's loops runs them."""

    def register(func):
        HANDLERS[kind] = func
        LANES[kind] = lane
        if on_give_up is not None:
            GIVE_UP[kind] = on_give_up
        return func

    return register


def periodic(kind: str, *, every: timedelta):
    """Register `func()` to run every `every`, in one worker at a time, in
    the public schema (it visits the tenants it needs itself)."""

    def register(func):
        HANDLERS[kind] = lambda _object_id: func()
        PERIODIC[kind] = every
        return func

    return register


def ensure_periodic() -> None:
    """Queue the first run of each periodic kind that has no pending run
    (every worker calls this at start; the unique index keeps one)."""
    for kind in PERIODIC:
        _queue_periodic(kind, clock.now())


def _queue_periodic(kind: str, due_at) -> None:
    jobs = f'"{get_public_schema_name()}".{Job._meta.db_table}'
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {jobs} (tenant_id, kind, object_id, due_at, attempts, last_error)
                VALUES (NULL, %s, 0, %s, 0, '')
                ON CONFLICT (kind) WHERE tenant_id IS NULL AND done_at IS NULL DO NOTHING""",
            [kind, due_at],
        )


def schedule(*, kind: str, object_id: int, due_at) -> None:
    """Queue work for the current tenant. Call inside the change's transaction."""
    tenant_pk = connection.tenant.pk
    with schema_context(get_public_schema_name()):
        Job.objects.create(tenant_id=tenant_pk, kind=kind, object_id=object_id, due_at=due_at)
    transaction.on_commit(runner.wake)


def schedule_many(*, kind: str, due: list[tuple[int, object]]) -> None:
    """Queue many jobs of `kind` for the current tenant, (object id, due
    at) each, in one statement. Call inside the change's transaction."""
    if not due:
        return
    jobs = f'"{get_public_schema_name()}".{Job._meta.db_table}'
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {jobs} (tenant_id, kind, object_id, due_at, attempts, last_error)
                SELECT %s, %s, d.id, d.due, 0, '' FROM unnest(%s::bigint[], %s::timestamptz[]) AS d(id, due)""",
            [connection.tenant.pk, kind, [object_id for object_id, _ in due], [at for _, at in due]],
        )
    if any(at <= clock.now() for _, at in due):
        transaction.on_commit(runner.wake)


def active_tenant() -> Tenant:
    """The tenant whose schema is active: whose work is being scheduled."""
    return connection.tenant


def arm(*, kind: str, starts: dict[int, object], delay_column: tuple[str, str]) -> int:
    """For each (object id → start) of `starts`: queue a job for the current
    tenant, due `start` plus the seconds in `delay_column` (table, column)
    of the tenant's row of that id, unless that delay is 0 or a pending job
    of this kind and object will run by then (it arms the next one
    itself). Returns how many were queued. One statement for all, inside
    the change's transaction.

    A pending job already due (perhaps running now) does not count: it may
    have read what it works on before this transaction committed.
    """
    if not starts:
        return 0
    table, column = delay_column
    jobs = f'"{get_public_schema_name()}".{Job._meta.db_table}'
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {jobs} (tenant_id, kind, object_id, due_at, attempts, last_error)
                SELECT %(tenant)s, %(kind)s, r.id, s.start + make_interval(secs => r.{column}), 0, ''
                FROM unnest(%(objects)s::bigint[], %(starts)s::timestamptz[]) AS s(id, start)
                JOIN {table} r ON r.id = s.id
                WHERE r.{column} > 0 AND NOT EXISTS (
                    SELECT 1 FROM {jobs} j
                    WHERE j.tenant_id = %(tenant)s AND j.kind = %(kind)s AND j.object_id = r.id
                      AND j.done_at IS NULL AND j.due_at > now()
                      AND j.due_at <= s.start + make_interval(secs => r.{column}))
                RETURNING id""",
            {"tenant": connection.tenant.pk, "kind": kind, "objects": list(starts), "starts": list(starts.values())},
        )
        return len(cursor.fetchall())


def lanes() -> list[str]:
    return sorted({DEFAULT_LANE, *LANES.values()})


def lane_kinds(lane: str) -> tuple[list[str] | None, list[str]]:
    """The kinds a lane runs, as (only these, or None for any; not these)."""
    others = [kind for kind, its in LANES.items() if its != DEFAULT_LANE]
    if lane == DEFAULT_LANE:
        return None, others
    return [kind for kind, its in LANES.items() if its == lane], []


def run_due(*, limit: int = 10, kinds: list[str] | None = None, lane: str | None = None) -> int:
    """Claim and run up to `limit` due jobs (of `kinds`, or of `lane`'s
    kinds, if given; else of any); return how many were claimed."""
    exclude: list[str] = []
    if lane is not None:
        kinds, exclude = lane_kinds(lane)
    jobs = _claim(limit, kinds, exclude)
    for job in jobs:
        _run(job)
    return len(jobs)


def _claim(limit: int, kinds: list[str] | None = None, exclude: list[str] = ()) -> list[Job]:
    now = clock.now()
    with schema_context(get_public_schema_name()), transaction.atomic():
        jobs = list(
            Job.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tenant")
            .filter(done_at__isnull=True, due_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .filter(**({"kind__in": kinds} if kinds is not None else {}))
            .exclude(kind__in=exclude)
            .order_by("due_at")[:limit]
        )
        lease = now + timedelta(seconds=settings.JOB_LEASE_SECONDS)
        Job.objects.filter(pk__in=[job.pk for job in jobs]).update(claimed_until=lease, attempts=F("attempts") + 1)
    return jobs


def _inside(job: Job):
    if job.tenant is None:
        return schema_context(get_public_schema_name())
    return tenant_context(job.tenant)


def _run(job: Job) -> None:
    attempt = job.attempts + 1  # the claim counted this run
    try:
        with _inside(job):
            HANDLERS[job.kind](job.object_id)
    except Exception as error:
        where = job.tenant.schema_name if job.tenant else "the platform"
        logger.exception("job %s %s of %s failed (attempt %s)", job.kind, job.object_id, where, attempt)
        sentry_sdk.capture_exception()
        give_up = attempt >= settings.JOB_MAX_ATTEMPTS
        retry_at = clock.now() + timedelta(seconds=settings.JOB_RETRY_SECONDS * 2 ** (attempt - 1))
        with schema_context(get_public_schema_name()):
            Job.objects.filter(pk=job.pk).update(
                last_error=repr(error)[:2000],
                done_at=clock.now() if give_up else None,
                due_at=job.due_at if give_up else retry_at,
                claimed_until=None,
            )
        if give_up:
            _give_up(job)
            _next_period(job)
        return  # (a periodic job's retry is its next run)
    with schema_context(get_public_schema_name()):
        Job.objects.filter(pk=job.pk).update(done_at=clock.now(), last_error="")
    _next_period(job)


def _give_up(job: Job) -> None:
    if job.kind not in GIVE_UP:
        return
    try:
        with _inside(job):
            GIVE_UP[job.kind](job.object_id)
    except Exception:
        logger.exception("giving up job %s %s failed too", job.kind, job.object_id)
        sentry_sdk.capture_exception()


def _next_period(job: Job) -> None:
    if job.tenant is None and job.kind in PERIODIC:
        _queue_periodic(job.kind, clock.now() + PERIODIC[job.kind])


def prune_done(*, older_than: timedelta) -> int:
    """Delete jobs that finished (done or given up) more than `older_than`
    ago, of every tenant; returns how many. A job per new order (the
    unattended-board check) makes the table grow with the orders otherwise."""
    with schema_context(get_public_schema_name()):
        deleted, _ = Job.objects.filter(done_at__lt=clock.now() - older_than).delete()
    return deleted


@periodic("jobs.prune", every=timedelta(hours=1))
def prune_week_old() -> None:
    prune_done(older_than=timedelta(days=7))


def for_each_tenant(func: Callable[[], None]) -> None:
    """Run `func()` inside each tenant's schema (a periodic job's round);
    one tenant's failure does not stop the others', and is raised after."""
    failed = None
    for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()).order_by("pk"):
        try:
            with tenant_context(tenant):
                func()
        except Exception as error:
            logger.exception("periodic work failed in %s", tenant.schema_name)
            failed = error
    if failed is not None:
        raise failed


def ensure_periodic_then_close() -> None:
    try:
        ensure_periodic()
    finally:
        connections.close_all()


def run_due_then_close(lane: str = DEFAULT_LANE) -> int:
    """`run_due` of one lane, for a thread of its own (the loop's pool threads)."""
    try:
        return run_due(lane=lane)
    finally:
        # This runs on a pool thread that no request cycle cleans up after.
        connections.close_all()


class Runner:
    """The loops, one per lane: run what is due, then sleep until the next
    poll or a wake-up."""

    def __init__(self):
        self.loop: asyncio.AbstractEventLoop | None = None
        self.events: list[asyncio.Event] = []

    def wake(self) -> None:
        """Called after a commit that scheduled something due now (any thread)."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            for event in list(self.events):
                loop.call_soon_threadsafe(event.set)

    async def run_forever(self) -> None:
        self.loop = asyncio.get_running_loop()
        try:
            try:
                await sync_to_async(ensure_periodic_then_close, thread_sensitive=False)()
            except Exception:
                logger.exception("could not queue the periodic jobs")
            async with asyncio.TaskGroup() as group:
                for lane in lanes():
                    group.create_task(self._lane(lane))
        finally:
            self.loop, self.events = None, []

    async def _lane(self, lane: str) -> None:
        event = asyncio.Event()
        self.events.append(event)
        while True:
            event.clear()
            try:
                # Not the consumers' shared DB thread: a delivery to
                # thousands must not stall every socket's queries.
                ran = await sync_to_async(run_due_then_close, thread_sensitive=False)(lane)
            except Exception:
                logger.exception("job runner tick failed (lane %s)", lane)
                ran = 0
            if ran:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(event.wait(), settings.JOBS_POLL_SECONDS)


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
