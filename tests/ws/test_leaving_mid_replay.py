"""A client that leaves during its replay frees its socket (found by an
outside test: the replay waited for ever for its page to drain, holding
the page in memory and the user's place under SOCKETS_PER_USER)."""

import asyncio
import json

import pytest
import websockets
from asgiref.sync import sync_to_async

from tests.factories import create_order, login_cookie
from tests.servers import uvicorn_server, websocket
from ws import close_codes

pytestmark = pytest.mark.django_db(transaction=True)


async def opens(server, cookie) -> str:
    async with websocket(server, "/ws/stores/1/orders/", host="acme.localhost", cookie=cookie) as board:
        try:
            while json.loads(await asyncio.wait_for(board.recv(), 5))["type"] != "stream.live":
                pass
        except websockets.ConnectionClosed as closed:
            return f"closed {closed.rcvd.code if closed.rcvd else None}"
    return "live"


@pytest.mark.parametrize("leave", ["close", "abort"])
async def test_a_client_that_leaves_mid_replay_gives_its_place_back(world, leave):
    for n in range(60):
        await sync_to_async(create_order)(world.acme.tenant, external_id=f"ACME-{n}")
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    env = {"STREAM_REPLAY_BATCH": "5", "SOCKETS_PER_USER": "1"}
    with uvicorn_server(extra_env=env) as server:
        path = "/ws/stores/1/orders/?after=0&presence=off"
        board = await websocket(server, path, host="acme.localhost", cookie=cookie)
        for _ in range(3):
            await board.recv()  # the replay is under way, pages of 5
        if leave == "close":
            await board.close()
        else:
            board.transport.abort()
        # Its place under SOCKETS_PER_USER (1) comes back: the next socket of
        # the user opens instead of being refused with 4429.
        for _ in range(50):
            result = await opens(server, cookie)
            if result == "live":
                break
            assert result == f"closed {close_codes.TOO_MANY_SOCKETS}", result
            await asyncio.sleep(0.1)
        assert result == "live"
