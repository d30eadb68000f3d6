"""The bells' heartbeat (alerts.consumers.BellWatch): a live push that
never came is sent anyway, with the badge, and nothing is sent twice."""

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from alerts.consumers import BellWatch
from alerts.models import Notification
from tests.factories import anotify, aread, login_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def saved_without_a_push(tenant, user, title):
    """A notification whose live push was lost (as to a Redis blip): the row
    is committed, no frame was ever sent."""
    with tenant_context(tenant):
        return Notification.objects.create(recipient=user, kind=Notification.Kind.SYSTEM, title=title)


@pytest.fixture(autouse=True)
def fast_heartbeat(settings, monkeypatch):
    settings.NOTIFICATIONS_HEARTBEAT_SECONDS = 0.2
    monkeypatch.setattr(BellWatch, "LOST_AFTER_SECONDS", 0.5)


async def test_a_lost_push_arrives_with_a_following_beat(open_socket, acme, customer):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["unread_count"] == 0

    lost = await sync_to_async(saved_without_a_push)(acme, customer, "the push never came")

    missed = await socket.receive(timeout=3)
    assert missed["type"] == "notifications.missed"
    assert [n["id"] for n in missed["notifications"]] == [lost.pk]
    assert missed["unread_count"] == 1  # the badge, right
    assert await socket.nothing(timeout=1)  # sent once


async def test_what_came_live_or_was_there_on_connect_is_not_sent_again(open_socket, acme, customer):
    # The newest notification is a read one: not in the unread frame, yet not "missed".
    await anotify(acme, customer, "unread")
    await aread(acme, await anotify(acme, customer, "read, and the newest"))
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["unread_count"] == 1

    await anotify(acme, customer, "live")
    assert (await socket.receive())["type"] == "notification.created"
    assert await socket.nothing(timeout=1.5)  # several beats, nothing repeated


async def test_other_users_and_the_other_tenant_are_not_disturbed(open_socket, acme, globex, customer, globex_twin):
    """globex's customer has the same user id: acme's lost push is not theirs."""
    twin = await open_socket(
        "/ws/notifications/", host="globex.localhost", cookie=await login_cookie(globex, globex_twin)
    )
    await twin.receive()
    mine = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    await mine.receive()

    lost = await sync_to_async(saved_without_a_push)(acme, customer, "acme only")

    assert [n["id"] for n in (await mine.receive(timeout=3))["notifications"]] == [lost.pk]
    assert await twin.nothing(timeout=1)


async def test_each_beat_reads_only_what_is_new_and_still_repairs_every_bell(open_socket, acme, customer, make_user):
    """The repair looks above a high-water mark, not at every inbox: a
    second lost push, long after the first, still reaches a user whose own
    newest notification is old, and nothing older is read again."""
    old_timer = await sync_to_async(make_user)(acme, "old-timer")
    await anotify(acme, old_timer, "months ago")  # this user's newest id stays low
    quiet = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, old_timer))
    await quiet.receive()
    busy = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    await busy.receive()
    for i in range(5):
        await anotify(acme, customer, f"live {i}")  # others' traffic moves the mark on
    for _ in range(5):
        await busy.receive()

    lost = await sync_to_async(saved_without_a_push)(acme, old_timer, "lost, after the others")
    missed = await quiet.receive(timeout=3)
    assert [n["id"] for n in missed["notifications"]] == [lost.pk]
    assert await busy.nothing(timeout=1)


def test_the_repair_query_reads_a_range_of_new_rows_only(acme, customer, globex, globex_twin):
    from datetime import timedelta

    from django.utils import timezone

    from alerts.selectors import newest_ids_since

    with tenant_context(acme):
        first = Notification.objects.create(recipient=customer, kind="system", title="a")
        second = Notification.objects.create(recipient=customer, kind="system", title="b")
        later = timezone.now() + timedelta(seconds=1)
        assert newest_ids_since(after_id=0, before=later) == {customer.pk: second.pk}
        assert newest_ids_since(after_id=second.pk, before=later) == {}
        assert newest_ids_since(after_id=first.pk, before=timezone.now() - timedelta(hours=1)) == {}
    with tenant_context(globex):
        assert newest_ids_since(after_id=0, before=later) == {}  # the same user id, another tenant
