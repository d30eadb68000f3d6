"""What a new notification queues for push and e-mail (alerts/offsite.py):
one Delivery row per channel, queued or skipped with the reason at once,
and a push job due now, or later for someone with a socket open."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from alerts import offsite
from alerts.announcements import announcement_create, announcement_deliver
from alerts.models import Delivery, NotificationKindPolicy, PushDevice
from alerts.services import notification_create, preferences_update
from tenants.models import Job
from ws import groups

pytestmark = pytest.mark.django_db


def device(cast, user):
    with tenant_context(cast.tenant):
        return PushDevice.objects.create(
            user=user,
            endpoint=f"https://fcm.googleapis.com/fcm/send/{cast.tenant.schema_name}-{user.pk}",
            p256dh="BPk",
            auth="au",
        )


def deliveries(cast, notification) -> dict[str, tuple[str, str]]:
    with tenant_context(cast.tenant):
        return {d.channel: (d.status, d.reason) for d in Delivery.objects.filter(notification=notification)}


def push_jobs(cast) -> list[Job]:
    with schema_context(get_public_schema_name()):
        return list(Job.objects.filter(kind=offsite.PUSH_JOB, tenant=cast.tenant).order_by("id"))


def set_email(cast, user, address):
    with tenant_context(cast.tenant):
        type(user).objects.filter(pk=user.pk).update(email=address)
        user.refresh_from_db()


def test_each_channel_is_queued_or_skipped_with_its_reason(world):
    cast = world.acme
    with tenant_context(cast.tenant):
        bare = notification_create(
            recipient=cast.customer, kind="order_status", params={"ref": "A1", "status": "ready"}
        )
    # No device, no address: both skipped at once, nothing to run later.
    assert deliveries(cast, bare) == {"push": ("skipped", "no_device"), "email": ("skipped", "no_address")}
    assert push_jobs(cast) == []

    device(cast, cast.customer)
    set_email(cast, cast.customer, "customer@example.com")
    with tenant_context(cast.tenant):
        reachable = notification_create(
            recipient=cast.customer, kind="order_status", params={"ref": "A1", "status": "completed"}
        )
        # An announcement is not mailed unless chosen; push is on by default.
        announced = notification_create(recipient=cast.customer, kind="announcement", title="Closed on Monday")
    assert deliveries(cast, reachable) == {"push": ("queued", ""), "email": ("queued", "")}
    assert deliveries(cast, announced) == {"push": ("queued", ""), "email": ("skipped", "muted")}
    with tenant_context(cast.tenant):
        preferences_update(user=cast.customer, kinds_channels={"order_status": {"push": False, "email": False}})
        muted = notification_create(recipient=cast.customer, kind="order_status", params={"ref": "A1", "status": "new"})
        # A kind the tenant makes critical goes out whatever the user chose.
        NotificationKindPolicy.objects.create(kind="order_status", critical=True)
        critical = notification_create(
            recipient=cast.customer, kind="order_status", params={"ref": "A1", "status": "cancelled"}
        )
    assert deliveries(cast, muted) == {"push": ("skipped", "muted"), "email": ("skipped", "muted")}
    assert deliveries(cast, critical) == {"push": ("queued", ""), "email": ("queued", "")}


def test_a_push_is_due_now_with_no_socket_open_else_after_the_tenants_delay(world):
    cast = world.acme
    device(cast, cast.customer)
    device(cast, cast.staff1)
    group = groups.user_notifications(cast.tenant, cast.staff1.pk)
    before = timezone.now()

    def notify_both():
        with tenant_context(cast.tenant):
            return (
                notification_create(recipient=cast.customer, kind="mention", title="hi"),
                notification_create(recipient=cast.staff1, kind="mention", title="hi"),
            )

    async def with_staff1s_bell_open():
        # A channel in staff1's group, as their bell's socket joins it.
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        try:
            return await sync_to_async(notify_both)()
        finally:
            await layer.group_discard(group, channel)

    away, here = async_to_sync(with_staff1s_bell_open)()
    with tenant_context(cast.tenant):
        ids = {d.notification_id: d.pk for d in Delivery.objects.filter(channel="push")}
    due = {job.object_id: job.due_at - before for job in push_jobs(cast)}
    assert set(due) == {ids[away.pk], ids[here.pk]}
    assert due[ids[away.pk]] < timedelta(seconds=5)
    assert timedelta(seconds=30) <= due[ids[here.pk]] < timedelta(seconds=35)  # push_after_seconds, default 30


def test_colliding_ids_each_tenant_queues_for_its_own_people(world):
    # Same user id in both tenants; only globex's has a device and an address.
    device(world.globex, world.globex.customer)
    set_email(world.globex, world.globex.customer, "globex-customer@example.com")
    created = {}
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant):
            created[cast.tenant.schema_name] = notification_create(
                recipient=cast.customer, kind="order_comment", params={"ref": "X"}, body="Ready soon"
            )
    assert deliveries(world.acme, created["acme"]) == {
        "push": ("skipped", "no_device"),
        "email": ("skipped", "no_address"),
    }
    assert deliveries(world.globex, created["globex"]) == {"push": ("queued", ""), "email": ("queued", "")}
    assert push_jobs(world.acme) == [] and len(push_jobs(world.globex)) == 1


def test_an_announcement_queues_each_recipients_copy(world):
    cast = world.acme
    device(cast, cast.staff2)
    with tenant_context(cast.tenant):
        announcement = announcement_create(author=cast.admin, title="Inventory tonight", audience="staff")
        announcement_deliver(announcement.pk)
        rows = {
            (d.notification.recipient_id, d.channel): (d.status, d.reason)
            for d in Delivery.objects.select_related("notification")
        }
    staff = {cast.staff1.pk, cast.staff2.pk, cast.manager1.pk}
    assert {user for user, _ in rows} == staff
    assert rows[(cast.staff2.pk, "push")] == ("queued", "")
    assert rows[(cast.staff1.pk, "push")] == ("skipped", "no_device")
    assert all(rows[(user, "email")] == ("skipped", "muted") for user in staff)
    assert len(push_jobs(cast)) == 1
