"""Presence with two worker processes behind one Redis, and after one dies."""

import asyncio
import json
import os
import signal

import pytest
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
