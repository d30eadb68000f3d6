"""The notifications socket's heartbeat: a live push that never came is
sent anyway, and the badge stays true, without repeating what was sent."""

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from alerts.models import Notification
from tests.alerts.test_notifications_socket import anotify, aread
from tests.conftest import login_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def saved_without_a_push(tenant, user, title):
    """A notification whose live push was lost (as to a Redis blip): the row
    is committed, no frame was ever sent."""
    with tenant_context(tenant):
        return Notification.objects.create(recipient=user, kind=Notification.Kind.SYSTEM, title=title)


async def frames_until_heartbeat(socket, latest_id: int) -> list[dict]:
    """Every frame up to the first heartbeat that reports `latest_id`."""
    frames = []
    while not (frames and frames[-1]["type"] == "notifications.heartbeat" and frames[-1]["latest_id"] == latest_id):
        frames.append(await socket.receive(timeout=3))
    return frames


@pytest.fixture
def fast_heartbeat(settings):
    settings.NOTIFICATIONS_HEARTBEAT_SECONDS = 0.3


async def test_a_lost_push_arrives_with_the_next_heartbeat(open_socket, acme, customer, fast_heartbeat):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["unread_count"] == 0

    lost = await sync_to_async(saved_without_a_push)(acme, customer, "the push never came")

    frames = await frames_until_heartbeat(socket, lost.pk)
    missed = [f for f in frames if f["type"] == "notifications.missed"]
    assert [[n["id"] for n in f["notifications"]] for f in missed] == [[lost.pk]]
    assert frames[-1] == {"type": "notifications.heartbeat", "latest_id": lost.pk, "unread_count": 1}
    # Sent once: the next beat only confirms.
    assert [f["type"] for f in await frames_until_heartbeat(socket, lost.pk)] == ["notifications.heartbeat"]


async def test_what_came_live_or_was_there_on_connect_is_not_sent_again(open_socket, acme, customer, settings):
    settings.NOTIFICATIONS_HEARTBEAT_SECONDS = 1
    # The newest notification is a read one: not in the unread frame, yet not "missed".
    await anotify(acme, customer, "unread")
    newest = await anotify(acme, customer, "read, and the newest")
    await aread(acme, newest)
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["unread_count"] == 1
    assert await frames_until_heartbeat(socket, newest.pk) == [
        {"type": "notifications.heartbeat", "latest_id": newest.pk, "unread_count": 1}
    ]

    live = await anotify(acme, customer, "live")  # just after a beat: it arrives live, well before the next
    frames = await frames_until_heartbeat(socket, live.pk)
    frames += await frames_until_heartbeat(socket, live.pk)  # and one more beat
    assert [f["type"] for f in frames].count("notification.created") == 1
    assert "notifications.missed" not in [f["type"] for f in frames]
    assert frames[-1] == {"type": "notifications.heartbeat", "latest_id": live.pk, "unread_count": 2}
