"""Presence with two worker processes behind one Redis, and after one dies."""

import asyncio
import json
import os
import signal

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connections

from tests.factories import session_cookie
from tests.servers import uvicorn_server, websocket

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]

FAST_PRESENCE = {"STREAM_HEARTBEAT_SECONDS": "0.5", "PRESENCE_TTL_SECONDS": "2"}


@pytest.fixture
def servers(world):
    with uvicorn_server(extra_env=FAST_PRESENCE) as first, uvicorn_server(extra_env=FAST_PRESENCE) as second:
        yield first, second
    connections.close_all()


async def presence_until(ws, expected: list[str], timeout: float = 10) -> list[str]:
    """Read frames until a presence frame lists exactly `expected`."""

    async def read():
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "presence" and [u["username"] for u in frame["users"]] == expected:
                return expected

    return await asyncio.wait_for(read(), timeout)


async def test_presence_is_shared_by_workers_and_a_dead_workers_users_disappear(servers, world):
    first, second = servers
    acme = world.acme
    staff_cookie = await sync_to_async(session_cookie)(acme.tenant, acme.staff1)
    manager_cookie = await sync_to_async(session_cookie)(acme.tenant, acme.manager1)

    async with websocket(second, "/ws/stores/1/orders/", host="acme.localhost", cookie=manager_cookie) as watcher:
        await presence_until(watcher, ["manager1"])
        doomed = await websocket(first, "/ws/stores/1/orders/", host="acme.localhost", cookie=staff_cookie)
        try:
            # staff1 is served by the other process: both lists agree.
            await presence_until(doomed, ["manager1", "staff1"])
            await presence_until(watcher, ["manager1", "staff1"])

            # The first worker dies without closing anything.
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait()

            assert await presence_until(watcher, ["manager1"]) == ["manager1"]
        finally:
            doomed.transport.abort()


# A TTL far beyond the test: a user who disappears was removed, not expired.
LONG_TTL = {"STREAM_HEARTBEAT_SECONDS": "0.5", "PRESENCE_TTL_SECONDS": "60"}


@pytest.fixture
def long_ttl_servers(world):
    with uvicorn_server(extra_env=LONG_TTL) as first, uvicorn_server(extra_env=LONG_TTL) as second:
        yield first, second
    connections.close_all()


async def quiet_except_heartbeats(ws, seconds: float) -> bool:
    """No frame but heartbeats for `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads(await ws.recv())
                if frame["type"] != "heartbeat":
                    return False
    except TimeoutError:
        return True


async def test_a_user_on_two_workers_stays_present_when_one_socket_closes_and_revocation_removes_them_at_once(
    long_ttl_servers, world
):
    first, second = long_ttl_servers
    acme = world.acme
    staff_cookie = await sync_to_async(session_cookie)(acme.tenant, acme.staff1)
    manager_cookie = await sync_to_async(session_cookie)(acme.tenant, acme.manager1)

    async with (
        websocket(second, "/ws/stores/1/orders/", host="acme.localhost", cookie=manager_cookie) as watcher,
        websocket(second, "/ws/stores/1/orders/", host="acme.localhost", cookie=staff_cookie) as staff_here,
    ):
        await presence_until(watcher, ["manager1", "staff1"])
        async with websocket(first, "/ws/stores/1/orders/", host="acme.localhost", cookie=staff_cookie) as there:
            await presence_until(there, ["manager1", "staff1"])
        # staff1's socket on the first worker closed; the one on the second
        # still counts: nobody is told anything changed.
        assert await quiet_except_heartbeats(watcher, 1.5)

        # Revocation: staff1 loses the store. Every worker closes their
        # sockets and the list without them arrives within 2 s (the TTL is 60 s).
        async with websocket(first, "/ws/stores/1/orders/", host="acme.localhost", cookie=staff_cookie) as there:
            await presence_until(there, ["manager1", "staff1"])

            def remove_membership():
                from django_tenants.utils import tenant_context

                from stores.models import StaffMembership

                with tenant_context(acme.tenant):
                    StaffMembership.objects.filter(user=acme.staff1, store_id=1).delete()

            await sync_to_async(remove_membership)()
            assert await presence_until(watcher, ["manager1"], timeout=2) == ["manager1"]
            for socket in (there, staff_here):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(_drain(socket), 2)
                assert closed.value.rcvd.code == 4403


async def _drain(ws) -> None:
    while True:
        await ws.recv()
