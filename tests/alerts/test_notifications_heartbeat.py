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
