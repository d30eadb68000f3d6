"""Read state over the socket: every tab agrees, only my notifications change."""

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from alerts.models import Notification
from alerts.services import notification_create, preferences_update
from tests.factories import change_status, create_order, login_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def notify(cast, who, title, kind=Notification.Kind.SYSTEM):
    with tenant_context(cast.tenant):
        return notification_create(recipient=getattr(cast, who), kind=kind, title=title)


anotify = sync_to_async(notify)


def unread_ids(cast, who):
    with tenant_context(cast.tenant):
        return sorted(
            Notification.objects.filter(recipient=getattr(cast, who), read_at__isnull=True).values_list("pk", flat=True)
        )


async def tab(open_socket, cast, who="customer", after=None):
    path = "/ws/notifications/" + (f"?after={after}" if after is not None else "")
    socket = await open_socket(
        path, host=f"{cast.tenant.schema_name}.localhost", cookie=await login_cookie(cast.tenant, getattr(cast, who))
    )
    first = await socket.receive()
    assert first["type"] == "notifications.unread"
    return socket, first


async def test_marking_read_in_one_tab_updates_every_tab(open_socket, world):
    a = await anotify(world.acme, "customer", "a")
    b = await anotify(world.acme, "customer", "b")
    tab1, first = await tab(open_socket, world.acme)
    tab2, _ = await tab(open_socket, world.acme)
    assert first["unread_count"] == 2

    await tab1.send({"type": "notifications.mark_read", "ids": [a.pk]})
    for socket in (tab1, tab2):
        assert await socket.receive() == {
            "type": "notifications.read",
            "ids": [a.pk],
            "unread_count": 1,
            "all": False,
            "unseen_count": 1,
        }

    await tab2.send({"type": "notifications.mark_all_read"})
    for socket in (tab1, tab2):
        assert await socket.receive() == {
            "type": "notifications.read",
            "ids": [b.pk],
            "unread_count": 0,
            "all": True,
            "unseen_count": 0,
        }
    assert await sync_to_async(unread_ids)(world.acme, "customer") == []


async def test_counts_follow_every_operation(open_socket, world):
    socket, first = await tab(open_socket, world.acme)
    assert first["unread_count"] == 0
    created = []
    for expected in (1, 2, 3):
        created.append(await anotify(world.acme, "customer", f"n{expected}"))
        assert (await socket.receive())["unread_count"] == expected
    await socket.send({"type": "notifications.mark_read", "ids": [created[0].pk, created[0].pk]})
    assert (await socket.receive())["unread_count"] == 2
    await socket.send({"type": "notifications.mark_read", "ids": [created[0].pk]})  # already read: nothing changes
    assert await socket.nothing()
    await socket.send({"type": "notifications.mark_all_read"})
    assert (await socket.receive())["unread_count"] == 0
    await socket.send({"type": "notifications.mark_all_read"})
    assert await socket.nothing()


async def test_another_users_ids_are_refused_and_reported(open_socket, world):
    theirs = await anotify(world.acme, "staff1", "staff only")
    globex = await anotify(world.globex, "customer", "globex customer, same user id")
    socket, _ = await tab(open_socket, world.acme)
    staff_tab, _ = await tab(open_socket, world.acme, "staff1")
    await socket.send({"type": "notifications.mark_read", "ids": [theirs.pk, globex.pk]})
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_message"
    assert str(theirs.pk) in frame["detail"]
    assert await staff_tab.nothing()
    assert await sync_to_async(unread_ids)(world.acme, "staff1") == [theirs.pk]
    assert await sync_to_async(unread_ids)(world.globex, "customer") == [globex.pk]


async def test_the_same_user_id_in_another_tenant_hears_nothing_of_my_reads(open_socket, world):
    await anotify(world.acme, "customer", "mine")
    await anotify(world.globex, "customer", "theirs")
    mine, _ = await tab(open_socket, world.acme)
    theirs, _ = await tab(open_socket, world.globex)
    await mine.send({"type": "notifications.mark_all_read"})
    assert (await mine.receive())["type"] == "notifications.read"
    assert await theirs.nothing()
    assert len(await sync_to_async(unread_ids)(world.globex, "customer")) == 1


@pytest.mark.parametrize(
    "message",
    [
        {"type": "notifications.mark_read"},
        {"type": "notifications.mark_read", "ids": "1"},
        {"type": "notifications.mark_read", "ids": []},
        {"type": "notifications.mark_read", "ids": ["1"]},
        {"type": "notifications.mark_read", "ids": [1.5]},
        {"type": "notifications.mark_read", "ids": [-3]},
        {"type": "notifications.mark_read", "ids": list(range(1, 1002))},
        {"type": "notifications.mark_read", "ids": [1], "all": True},
        {"type": "notifications.mark_all_read", "ids": [1]},
    ],
)
async def test_bad_read_messages_get_an_error_and_change_nothing(open_socket, world, message):
    n = await anotify(world.acme, "customer", "keep me unread")
    socket, _ = await tab(open_socket, world.acme)
    await socket.send(message)
    frame = await socket.receive()
    assert frame["type"] == "error" and frame["code"] == "invalid_message"
    await socket.send({"type": "ping"})
    assert await socket.receive() == {"type": "pong"}
    assert await sync_to_async(unread_ids)(world.acme, "customer") == [n.pk]


async def test_reconnecting_with_after_gets_what_was_created_meanwhile_read_or_not(open_socket, world):
    seen = await anotify(world.acme, "customer", "seen before")
    first, _ = await tab(open_socket, world.acme)
    await first.communicator.disconnect()
    read_meanwhile = await anotify(world.acme, "customer", "read in another tab")
    unread = await anotify(world.acme, "customer", "unread")

    def read_one():
        with tenant_context(world.acme.tenant):
            Notification.objects.filter(pk=read_meanwhile.pk).update(read_at="2026-01-01T00:00:00Z")

    await sync_to_async(read_one)()
    socket, unread_frame = await tab(open_socket, world.acme, after=seen.pk)
    assert unread_frame["unread_count"] == 2
    missed = await socket.receive()
    assert missed["type"] == "notifications.missed" and missed["after"] == seen.pk and missed["has_more"] is False
    assert [(n["id"], n["read"]) for n in missed["notifications"]] == [(read_meanwhile.pk, True), (unread.pk, False)]


async def test_offline_user_finds_a_status_alert_unread_on_connect(open_socket, world):
    order = await sync_to_async(create_order)(world.acme.tenant, customer=world.acme.customer)
    await sync_to_async(change_status)(world.acme.tenant, order, "accepted")
    _, first = await tab(open_socket, world.acme)
    assert first["unread_count"] == 1 and first["notifications"][0]["kind"] == "order_status"


async def test_muted_kinds_are_not_pushed_nor_counted(open_socket, world):
    def mute():
        with tenant_context(world.acme.tenant):
            preferences_update(user=world.acme.customer, muted_kinds=["announcement"])

    await sync_to_async(mute)()
    socket, _ = await tab(open_socket, world.acme)
    await anotify(world.acme, "customer", "quiet", kind=Notification.Kind.ANNOUNCEMENT)
    assert await socket.nothing()
    loud = await anotify(world.acme, "customer", "loud")
    frame = await socket.receive()
    assert frame["notification"]["id"] == loud.pk and frame["unread_count"] == 1
    _, first = await tab(open_socket, world.acme)
    assert first["unread_count"] == 1 and [n["title"] for n in first["notifications"]] == ["loud"]
