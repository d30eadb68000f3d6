"""`/ws/notifications/`: the unread frame on connect and live notifications."""

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction
from django_tenants.utils import tenant_context

from tests.factories import anotify, aread, login_cookie, notify

pytestmark = pytest.mark.django_db(transaction=True)


async def test_connect_sends_the_true_unread_count_and_the_newest_unread(open_socket, acme, customer):
    first = await anotify(acme, customer, "first")
    second = await anotify(acme, customer, "second", body="b", url="/orders/1")
    await aread(acme, await anotify(acme, customer, "already read"))

    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    frame = await socket.receive()

    assert frame["type"] == "notifications.unread"
    assert frame["unread_count"] == 2
    assert frame["has_more"] is False
    assert [n["id"] for n in frame["notifications"]] == [second.pk, first.pk]
    newest = frame["notifications"][0]
    assert newest == {
        "id": second.pk,
        "kind": "system",
        "title": "second",
        "body": "b",
        "url": "/orders/1",
        "created_at": second.created_at.isoformat(),
        "read": False,
        "seen_at": None,
        "read_at": None,
        "archived_at": None,
        "order_id": None,
    }


async def test_connect_frame_is_bounded_and_says_there_is_more(open_socket, acme, customer, settings):
    settings.NOTIFICATIONS_ON_CONNECT = 3
    created = [await anotify(acme, customer, f"n{i}") for i in range(5)]
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    frame = await socket.receive()
    assert frame["unread_count"] == 5
    assert frame["has_more"] is True
    assert [n["id"] for n in frame["notifications"]] == [n.pk for n in reversed(created)][:3]


async def test_a_new_notification_arrives_live(open_socket, acme, customer):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    assert (await socket.receive())["unread_count"] == 0
    notification = await anotify(acme, customer, "your order is ready")
    frame = await socket.receive()
    assert frame["type"] == "notification.created"
    assert frame["notification"]["id"] == notification.pk
    assert frame["notification"]["title"] == "your order is ready"


async def test_nothing_is_pushed_before_commit_and_nothing_on_rollback(open_socket, acme, customer):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    await socket.receive()

    def rolled_back():
        with tenant_context(acme), pytest.raises(RuntimeError), transaction.atomic():
            notify(acme, customer, "never happened")
            raise RuntimeError

    await sync_to_async(rolled_back)()
    assert await socket.nothing()

    seen_before_commit = []

    def committed_later():
        with tenant_context(acme), transaction.atomic():
            notify(acme, customer, "after commit")
            seen_before_commit.append(not socket.communicator.output_queue.empty())

    await sync_to_async(committed_later)()
    assert seen_before_commit == [False]
    assert (await socket.receive())["notification"]["title"] == "after commit"


async def test_same_user_id_in_another_tenant_hears_nothing(open_socket, acme, globex, customer, globex_twin):
    twin = globex_twin
    acme_socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    globex_socket = await open_socket(
        "/ws/notifications/", host="globex.localhost", cookie=await login_cookie(globex, twin)
    )
    await acme_socket.receive()
    await globex_socket.receive()

    await anotify(acme, customer, "acme only")

    assert (await acme_socket.receive())["notification"]["title"] == "acme only"
    assert await globex_socket.nothing()


@pytest.fixture
def other(acme, make_user):
    return make_user(acme, "other")


async def test_every_socket_of_the_user_gets_it_and_no_other_user(open_socket, acme, customer, other):
    tabs = [await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer)) for _ in range(2)]
    bystander = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, other))
    for socket in [*tabs, bystander]:
        await socket.receive()

    await anotify(acme, customer, "both tabs")

    for tab in tabs:
        assert (await tab.receive())["notification"]["title"] == "both tabs"
    assert await bystander.nothing()
