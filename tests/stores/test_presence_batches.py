"""Presence in one worker: counted in memory, written in batches, broadcast
only when the set of users changes (stores/presence.py)."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from stores import services
from stores.models import PresenceSession
from tests.factories import login_cookie

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/ws/stores/1/orders/"


@pytest.fixture
def presence_trips(monkeypatch) -> list[str]:
    """The name of every presence service call (each is one database trip),
    as it runs (the real service still runs)."""
    trips: list[str] = []
    for name in ("presence_write", "presence_refresh"):
        real = getattr(services, name)

        def spy(*args, _real=real, _name=name, **kwargs):
            trips.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(services, name, spy)
    return trips


def rows(tenant) -> list[tuple[str, str]]:
    with tenant_context(tenant):
        return sorted(PresenceSession.objects.values_list("user__username", "worker"))


def presence_lists(published) -> list[list[str]]:
    return [
        [user["username"] for user in p.frame["users"]] for p in published if json.loads(p.text)["type"] == "presence"
    ]


async def names(socket, timeout=3) -> list[str]:
    """The users of the next presence frame."""
    while True:
        frame = await socket.receive(timeout=timeout)
        if frame["type"] == "presence":
            return [user["username"] for user in frame["users"]]


async def last_names(socket) -> list[str]:
    """The users of the last presence frame, once the socket goes quiet."""
    last = await names(socket)
    while (frame := await socket.next_or_none(timeout=0.3)) is not None:
        if frame["type"] == "presence":
            last = [user["username"] for user in frame["users"]]
    return last


async def test_a_storm_of_reconnects_costs_a_few_batches_and_one_broadcast_per_change(
    open_socket, world, published, presence_trips
):
    acme = world.acme
    staff_cookie = await login_cookie(acme.tenant, acme.staff1)
    manager_cookie = await login_cookie(acme.tenant, acme.manager1)
    watcher = await open_socket(PATH, cookie=manager_cookie)
    assert await names(watcher) == ["manager1"]
    published.clear()
    presence_trips.clear()

    # 24 sockets of two users at once (under SOCKETS_PER_USER): 18 tabs of
    # staff1, 6 more of manager1.
    # In waves of six (the test client gives each handshake one second).
    storm = []
    for wave in range(4):
        storm += await asyncio.gather(
            *(
                open_socket(PATH, cookie=staff_cookie if i % 4 else manager_cookie)
                for i in range(6 * wave, 6 * wave + 6)
            )
        )
    for socket in storm:
        # A tab of manager1 may first get the list as it was (it was right).
        assert await last_names(socket) == ["manager1", "staff1"]
    assert await names(watcher) == ["manager1", "staff1"]
    assert await watcher.next_or_none(timeout=0.5) is None  # one list, not one per socket

    # One broadcast (staff1 appeared), a batch or two, one row per user and worker.
    assert presence_lists(published) == [["manager1", "staff1"]]
    assert 1 <= len(presence_trips) <= 3, presence_trips
    present = await sync_to_async(rows)(acme.tenant)
    assert [user for user, _ in present] == ["manager1", "staff1"]
    assert len({worker for _, worker in present}) == 1

    # Every tab of staff1 closes at once: one broadcast when the last one goes.
    published.clear()
    presence_trips.clear()
    await asyncio.gather(*(socket.communicator.disconnect() for i, socket in enumerate(storm) if i % 4))
    assert await names(watcher) == ["manager1"]
    assert await watcher.next_or_none(timeout=0.5) is None
    assert presence_lists(published) == [["manager1"]]
    assert 1 <= len(presence_trips) <= 3, presence_trips
    assert [user for user, _ in await sync_to_async(rows)(acme.tenant)] == ["manager1"]


async def test_a_socket_of_a_user_already_listed_needs_no_database_trip(open_socket, world, presence_trips):
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    first = await open_socket(PATH, cookie=cookie)
    assert await names(first) == ["staff1"]
    presence_trips.clear()

    second = await open_socket(PATH, cookie=cookie)
    assert await names(second) == ["staff1"]  # the list this worker already has
    await second.communicator.disconnect()
    assert await first.next_or_none(timeout=0.3) is None
    assert presence_trips == []


async def test_a_user_new_here_but_unchanged_list_is_told_without_a_broadcast(open_socket, world, published):
    """A user already listed through another worker (a row of another worker
    here) opening a socket on this one changes no list: the socket is sent
    the list, the store hears nothing."""
    acme = world.acme

    def row_of_another_worker():
        from django.utils import timezone

        with tenant_context(acme.tenant):
            PresenceSession.objects.create(store_id=1, user=acme.staff1, worker="other-worker", seen_at=timezone.now())

    await sync_to_async(row_of_another_worker)()
    watcher = await open_socket(PATH, cookie=await login_cookie(acme.tenant, acme.manager1))
    assert await names(watcher) == ["manager1", "staff1"]
    published.clear()

    staff = await open_socket(PATH, cookie=await login_cookie(acme.tenant, acme.staff1))
    assert await names(staff) == ["manager1", "staff1"]
    assert await watcher.next_or_none(timeout=0.5) is None
    assert presence_lists(published) == []
    assert [user for user, _ in await sync_to_async(rows)(acme.tenant)] == ["manager1", "staff1", "staff1"]


async def test_a_row_removed_while_the_worker_stalled_comes_back_at_its_heartbeat(open_socket, world, settings):
    settings.STREAM_HEARTBEAT_SECONDS = 0.2
    acme = world.acme
    socket = await open_socket(PATH, cookie=await login_cookie(acme.tenant, acme.staff1))
    assert await names(socket) == ["staff1"]

    def forget():
        # What another worker does to rows it thinks are a dead worker's.
        with tenant_context(acme.tenant):
            PresenceSession.objects.all().delete()

    await sync_to_async(forget)()
    for _ in range(30):
        await asyncio.sleep(0.1)
        if await sync_to_async(rows)(acme.tenant):
            break
    assert [user for user, _ in await sync_to_async(rows)(acme.tenant)] == ["staff1"]


async def test_colliding_ids_in_two_tenants_are_two_presences(open_socket, world):
    """staff1 of acme and staff1 of globex share a user id and store 1: each
    tenant's schema gets its own row, and neither list names the other."""
    acme_socket = await open_socket(PATH, cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    assert await names(acme_socket) == ["staff1"]
    globex_socket = await open_socket(
        PATH, host="globex.localhost", cookie=await login_cookie(world.globex.tenant, world.globex.manager1)
    )
    assert await names(globex_socket) == ["manager1"]
    assert await acme_socket.next_or_none(timeout=0.3) is None

    await acme_socket.communicator.disconnect()
    assert [user for user, _ in await sync_to_async(rows)(world.acme.tenant)] == []
    assert [user for user, _ in await sync_to_async(rows)(world.globex.tenant)] == ["manager1"]
    assert await globex_socket.next_or_none(timeout=0.3) is None
