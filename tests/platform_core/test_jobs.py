"""Deferred jobs: retries with backoff, giving up, periodic runs, the clock
tests move, and two runners never running one job twice (real PostgreSQL)."""

import asyncio
import contextlib
import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.test import override_settings
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from alerts.models import Notification
from alerts.services import notification_create
from platform_core import clock, jobs
from tenants.models import Job

pytestmark = pytest.mark.django_db

runs: list[tuple[str, int]] = []
failures_left: dict[int, int] = {}
gave_up: list[tuple[str, int]] = []


def _remember_give_up(object_id: int) -> None:
    from django.db import connection

    gave_up.append((connection.schema_name, object_id))


@jobs.handler("test.flaky", on_give_up=_remember_give_up)
def flaky(object_id: int) -> None:
    from django.db import connection

    if failures_left.get(object_id, 0) > 0:
        failures_left[object_id] -= 1
        raise RuntimeError(f"flaky {object_id}")
    runs.append((connection.schema_name, object_id))


@pytest.fixture(autouse=True)
def clean():
    runs.clear()
    failures_left.clear()
    gave_up.clear()
    yield
    jobs.PERIODIC.pop("test.tick", None)
    jobs.HANDLERS.pop("test.tick", None)


def the_job(kind: str) -> Job:
    with schema_context(get_public_schema_name()):
        return Job.objects.get(kind=kind)


@override_settings(JOB_RETRY_SECONDS=10, JOB_MAX_ATTEMPTS=3)
def test_a_failing_job_is_retried_later_each_time_then_given_up(world):
    failures_left[7] = 99
    with tenant_context(world.acme.tenant):
        jobs.schedule(kind="test.flaky", object_id=7, due_at=clock.now())
    assert jobs.run_due(kinds=["test.flaky"]) == 1
    job = the_job("test.flaky")
    first_retry = job.due_at - clock.now()
    assert timedelta(seconds=9) < first_retry <= timedelta(seconds=10) and job.done_at is None
    assert jobs.run_due(kinds=["test.flaky"]) == 0  # not before its time
    with clock.travel(10):
        assert jobs.run_due(kinds=["test.flaky"]) == 1
        second_retry = the_job("test.flaky").due_at - clock.now()
    assert timedelta(seconds=19) < second_retry <= timedelta(seconds=20)  # doubled
    assert gave_up == []
    with clock.travel(31):
        assert jobs.run_due(kinds=["test.flaky"]) == 1
    job = the_job("test.flaky")
    assert job.done_at is not None and job.attempts == 3 and "flaky 7" in job.last_error
    assert gave_up == [("acme", 7)]  # once, in the job's tenant
    with clock.travel(3600):
        assert jobs.run_due(kinds=["test.flaky"]) == 0


def test_a_job_that_fails_once_succeeds_on_its_retry(world):
    failures_left[8] = 1
    with tenant_context(world.globex.tenant):
        jobs.schedule(kind="test.flaky", object_id=8, due_at=clock.now())
    jobs.run_due(kinds=["test.flaky"])
    with clock.travel(60):
        jobs.run_due(kinds=["test.flaky"])
    job = the_job("test.flaky")
    assert runs == [("globex", 8)] and job.done_at is not None and job.last_error == "" and gave_up == []


def test_a_periodic_job_has_one_pending_run_and_each_run_queues_the_next(world):
    ticks = []
    jobs.periodic("test.tick", every=timedelta(minutes=5))(lambda: ticks.append(clock.now()))
    jobs.ensure_periodic()
    jobs.ensure_periodic()  # a second worker starting: still one pending run
    with schema_context(get_public_schema_name()):
        assert Job.objects.filter(kind="test.tick", done_at__isnull=True).count() == 1
    jobs.run_due(kinds=["test.tick"])
    assert len(ticks) == 1
    jobs.run_due(kinds=["test.tick"])
    assert len(ticks) == 1  # the next is five minutes away
    with clock.travel(301):
        jobs.run_due(kinds=["test.tick"])
    assert len(ticks) == 2
    with schema_context(get_public_schema_name()):
        pending = Job.objects.get(kind="test.tick", done_at__isnull=True)
        assert pending.tenant is None
        assert Job.objects.filter(kind="test.tick", done_at__isnull=False).count() == 2


def test_retention_runs_as_a_periodic_job_in_every_tenant(world):
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant):
            old = notification_create(recipient=cast.customer, kind="system", title="old and read")
            Notification.objects.filter(pk=old.pk).update(read_at=clock.now())
            notification_create(recipient=cast.customer, kind="system", title="old, unread")
            Notification.objects.update(created_at=clock.now() - timedelta(days=400))
    jobs.ensure_periodic()
    jobs.run_due(kinds=["alerts.retention"])
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant):
            assert list(Notification.objects.values_list("title", flat=True)) == ["old, unread"]


@pytest.mark.django_db(transaction=True)
def test_two_runners_racing_run_each_due_job_once(world):
    with tenant_context(world.acme.tenant):
        for n in range(40):
            jobs.schedule(kind="test.flaky", object_id=n, due_at=clock.now())
    start = threading.Barrier(2)

    def runner():
        try:
            start.wait()
            while jobs.run_due(limit=3, kinds=["test.flaky"]):
                pass
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(n for _, n in runs) == list(range(40))


@pytest.mark.django_db(transaction=True)
def test_a_slow_lane_never_holds_up_the_others_jobs(world):
    """Pushes wait on push services: in a lane of their own, a stuck one
    leaves announcements, digests and board checks on time."""
    release = threading.Event()
    started = threading.Event()

    @jobs.handler("test.stuck", lane="test-slow")
    def stuck(object_id: int) -> None:
        started.set()
        release.wait(30)

    try:
        with tenant_context(world.acme.tenant):
            for n in range(3):
                jobs.schedule(kind="test.stuck", object_id=n, due_at=clock.now())
            jobs.schedule(kind="test.flaky", object_id=99, due_at=clock.now())

        async def run_a_while():
            task = asyncio.create_task(jobs.runner.run_forever())
            try:
                deadline = time.monotonic() + 10
                while not (started.is_set() and runs) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                return list(runs)  # while the stuck ones still hold their lane
            finally:
                release.set()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        ran_meanwhile = asyncio.run(run_a_while())
        assert started.is_set() and ran_meanwhile == [("acme", 99)]
    finally:
        release.set()
        jobs.HANDLERS.pop("test.stuck", None)
        jobs.LANES.pop("test.stuck", None)
