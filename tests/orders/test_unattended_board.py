"""A new order with nobody on the store's board: after the store's
`unattended_alert_seconds` the tenant admins of that tenant are told, once
per order (orders/unattended.py). Real PostgreSQL, the real job queue and,
where a board is open, a real dashboard socket's presence."""

import io
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from alerts.models import Notification
from orders.unattended import CHECK, unattended_check
from platform_core import jobs
from stores.models import PresenceSession, Store
from tenants.models import Job
from tests.factories import change_status, create_order, login_cookie, make_user

KIND = Notification.Kind.BOARD_UNATTENDED
STORE_1 = "/manage/stores/1/"  # the admins' page of the store: who its staff are


def set_delay(tenant, seconds: int, store_id: int = 1) -> None:
    with tenant_context(tenant):
        Store.objects.filter(pk=store_id).update(unattended_alert_seconds=seconds)


def told(tenant) -> list[tuple[str, str]]:
    """(recipient, url) of every unattended-board notification in the tenant."""
    with tenant_context(tenant):
        return sorted(Notification.objects.filter(kind=KIND).values_list("recipient__username", "url"))


def someone_on_the_board(tenant, user, store_id: int = 1) -> None:
    """A fresh presence row, as a worker's batch writes it for an open board."""
    with tenant_context(tenant):
        PresenceSession.objects.create(store_id=store_id, user=user, worker="elsewhere:1", seen_at=timezone.now())


def run_jobs_after(seconds: float) -> None:
    time.sleep(seconds)
    jobs.run_due()


@pytest.mark.django_db
def test_nobody_on_the_board_tells_each_admin_of_that_tenant_once_for_the_orders_waiting(world):
    acme, globex = world.acme, world.globex
    second_admin = make_user(acme.tenant, "admin2", is_tenant_admin=True)
    make_user(acme.tenant, "gone-admin", is_tenant_admin=True, is_active=False)
    for tenant in (acme.tenant, globex.tenant):
        set_delay(tenant, 1)
    # Store 1 exists in both tenants: globex's has someone on its board.
    someone_on_the_board(globex.tenant, globex.staff1)
    create_order(acme.tenant, external_id="WEB-1")
    create_order(acme.tenant, external_id="WEB-2")
    create_order(globex.tenant, external_id="WEB-1")

    jobs.run_due()
    assert told(acme.tenant) == [], "not before the delay"

    run_jobs_after(1.1)
    assert told(acme.tenant) == [("admin", STORE_1), (second_admin.username, STORE_1)]
    assert told(globex.tenant) == []
    with tenant_context(acme.tenant):
        notification = Notification.objects.filter(kind=KIND).first()
        assert notification.title == f"Nobody is on the board of {acme.store1.name}"
        assert notification.body.startswith("2 orders are waiting, the oldest (WEB-1)")

    # A check that runs again (a lease that ran out) tells nobody twice.
    with tenant_context(acme.tenant):
        unattended_check(acme.store1.pk)
    jobs.run_due()
    assert len(told(acme.tenant)) == 2


@pytest.mark.django_db
def test_an_order_accepted_within_the_delay_tells_nobody(world):
    acme = world.acme
    set_delay(acme.tenant, 1)
    accepted = create_order(acme.tenant, external_id="WEB-1")
    create_order(acme.tenant, external_id="WEB-2")
    change_status(acme.tenant, accepted, "accepted")

    run_jobs_after(1.1)
    assert told(acme.tenant) == [("admin", STORE_1)]
    with tenant_context(acme.tenant):
        body = Notification.objects.get(kind=KIND).body
    assert "WEB-2" in body and "WEB-1" not in body


@pytest.mark.django_db
def test_a_store_with_the_alert_off_schedules_nothing(world):
    acme = world.acme
    set_delay(acme.tenant, 0)
    create_order(acme.tenant, external_id="WEB-1")
    assert not Job.objects.filter(kind=CHECK).exists()


@pytest.mark.django_db
def test_a_rolled_back_order_schedules_nothing(world):
    acme = world.acme
    with pytest.raises(RuntimeError), tenant_context(acme.tenant), transaction.atomic():
        create_order(acme.tenant, external_id="WEB-1")
        raise RuntimeError("the request failed after the order was written")
    assert not Job.objects.filter(kind=CHECK).exists()


@pytest.mark.django_db
def test_turning_the_alert_off_meanwhile_tells_nobody(world):
    acme = world.acme
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-1")
    set_delay(acme.tenant, 0)
    run_jobs_after(1.1)
    assert told(acme.tenant) == []


@pytest.mark.django_db(transaction=True)
async def test_a_board_open_on_the_store_tells_nobody_and_the_same_store_id_elsewhere_is_told(open_socket, world):
    """The presence of a real dashboard socket (written by its worker's
    batch), not a row made by hand. Globex's store 1 has nobody on it."""
    acme, globex = world.acme, world.globex
    for tenant in (acme.tenant, globex.tenant):
        await sync_to_async(set_delay)(tenant, 1)
    board = await open_socket("/ws/stores/1/orders/", cookie=await login_cookie(acme.tenant, acme.staff1))
    while (await board.receive(timeout=3))["type"] != "presence":
        pass  # the list comes once the batch with staff1's row is committed

    await sync_to_async(create_order)(acme.tenant, external_id="WEB-1")
    await sync_to_async(create_order)(globex.tenant, external_id="WEB-1")
    await sync_to_async(run_jobs_after)(1.1)

    assert await sync_to_async(told)(acme.tenant) == []
    assert await sync_to_async(told)(globex.tenant) == [("admin", STORE_1)]


@pytest.mark.django_db
def test_finished_checks_are_pruned_and_pending_ones_kept(world):
    acme = world.acme
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-1")
    Job.objects.filter(kind=CHECK).update(done_at=timezone.now() - timedelta(days=8))
    create_order(acme.tenant, external_id="WEB-2")  # the finished check arms nothing: a new one
    call_command("prune_jobs", stdout=io.StringIO())
    assert list(Job.objects.filter(kind=CHECK).values_list("object_id", "done_at")) == [(acme.store1.pk, None)]


@pytest.mark.django_db
def test_a_rush_of_orders_arms_one_check_per_store_and_tells_each_admin_once_per_store(world):
    # One pending check per store, not a job per order (a job per order
    # doubled the statements of every webhook, issue 15), and one
    # notification per store, not per order (an outside test got 100 in 1.4 s).
    acme = world.acme
    set_delay(acme.tenant, 1)
    set_delay(acme.tenant, 1, store_id=acme.store2.pk)
    for n in range(30):
        create_order(acme.tenant, external_id=f"WEB-{n}")
    create_order(acme.tenant, external_id="OTHER", store_id=acme.store2.pk)
    assert sorted(Job.objects.filter(kind=CHECK).values_list("object_id", flat=True)) == [
        acme.store1.pk,
        acme.store2.pk,
    ]

    run_jobs_after(1.1)
    assert told(acme.tenant) == [("admin", STORE_1), ("admin", f"/manage/stores/{acme.store2.pk}/")]
    with tenant_context(acme.tenant):
        assert Notification.objects.get(kind=KIND, url=STORE_1).body.startswith("30 orders are waiting")


@pytest.mark.django_db
def test_an_order_placed_after_the_check_ran_is_checked_and_admins_are_not_told_again_at_once(world):
    acme = world.acme
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-1")
    time.sleep(0.6)
    create_order(acme.tenant, external_id="WEB-2")  # a check will run before its due time: none armed
    assert Job.objects.filter(kind=CHECK).count() == 1
    run_jobs_after(0.5)  # the check for WEB-1 runs, and arms one for WEB-2
    assert told(acme.tenant) == [("admin", STORE_1)]
    assert Job.objects.filter(kind=CHECK, done_at__isnull=True).count() == 1
    run_jobs_after(0.7)  # WEB-2's check: within UNATTENDED_REPEAT of the first, so no second one
    assert told(acme.tenant) == [("admin", STORE_1)]
    assert not Job.objects.filter(kind=CHECK, done_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_shorter_delay_applies_to_the_next_order_at_once(world):
    # A check armed under a long delay must not hold back an order whose
    # (shorter) delay ends before it.
    acme = world.acme
    set_delay(acme.tenant, 60)
    create_order(acme.tenant, external_id="WEB-1")
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-2")
    assert Job.objects.filter(kind=CHECK, done_at__isnull=True).count() == 2
    run_jobs_after(1.1)
    with tenant_context(acme.tenant):
        body = Notification.objects.get(kind=KIND).body
    assert body.startswith("2 orders are waiting, the oldest (WEB-1)"), "both are past the store's delay now"


@pytest.mark.django_db
def test_in_a_rush_a_store_is_checked_again_half_its_delay_later_at_the_soonest(world):
    # Checks back to back, one per order of a rush, took the CPU the orders
    # needed (issue 15): the next check waits min(5 s, delay / 2).
    acme = world.acme
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-1")
    time.sleep(0.4)
    second = create_order(acme.tenant, external_id="WEB-2")
    time.sleep(0.7)  # WEB-1 is due; WEB-2 is due 0.3 s from now
    ran_at = timezone.now()
    jobs.run_due()
    assert told(acme.tenant) == [("admin", STORE_1)]
    (due_at,) = Job.objects.filter(kind=CHECK, done_at__isnull=True).values_list("due_at", flat=True)
    assert due_at >= ran_at + timedelta(seconds=0.5), "not at WEB-2's due time, 0.3 s after the check"
    assert due_at > second.created_at + timedelta(seconds=1)


@pytest.mark.django_db(transaction=True)
def test_a_running_check_does_not_hold_up_the_stores_orders_and_a_second_check_waits_for_it(world):
    """The check's lock is its own, not the store's row that every order
    write locks for its stream seq (a check held up the store's webhooks)."""
    acme = world.acme
    set_delay(acme.tenant, 1)
    create_order(acme.tenant, external_id="WEB-1")
    time.sleep(1.05)
    with tenant_context(acme.tenant):
        notifications = Notification._meta.db_table
    held, release = threading.Event(), threading.Event()
    finished = []

    def hold_notifications():  # the check stops at its first read of them
        try:
            with tenant_context(acme.tenant), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {notifications} IN ACCESS EXCLUSIVE MODE")
                held.set()
                release.wait(10)
        finally:
            connections.close_all()

    def check():
        try:
            with tenant_context(acme.tenant):
                unattended_check(acme.store1.pk)
            finished.append(time.monotonic())
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_notifications)
    first, second = threading.Thread(target=check), threading.Thread(target=check)
    holder.start()
    try:
        held.wait(5)
        first.start()
        time.sleep(0.5)  # the first check is waiting for the notifications, inside its transaction
        second.start()
        with tenant_context(acme.tenant), connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
            create_order(acme.tenant, external_id="WEB-2")  # not held up by the check (else: lock timeout)
            cursor.execute("SET lock_timeout = 0")
        time.sleep(0.3)
        assert finished == [], "the second check waits for the first"
    finally:
        release.set()
        for thread in (holder, first, second):
            if thread.is_alive() or thread is holder:
                thread.join(10)
    assert len(finished) == 2
    assert told(acme.tenant) == [("admin", STORE_1)], "told once: the second check saw the first's notification"
