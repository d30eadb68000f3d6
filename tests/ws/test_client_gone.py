"""A client that leaves while the server is still sending to it is normal
(tabs close, phones lose signal): nothing is logged as an error, nothing
reaches Sentry, and the socket's cleanup still runs."""

import asyncio
import tempfile

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from tests.factories import session_cookie
from tests.servers import uvicorn_server, websocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_clients_that_vanish_mid_send_are_not_errors(world):
    cookies = {
        "/ws/notifications/": await sync_to_async(session_cookie)(world.acme.tenant, world.acme.customer),
        "/ws/stores/1/orders/": await sync_to_async(session_cookie)(world.acme.tenant, world.acme.staff1),
    }
    with tempfile.TemporaryFile("w+") as log:
        with uvicorn_server(output=log, extra_env={"LOG_LEVEL": "INFO"}) as server:
            for _ in range(15):
                for path, cookie in cookies.items():
                    # The handshake completes, then the connection is cut
                    # while the server reads and sends the first frames.
                    ws = await websocket(server, path, host="acme.localhost", cookie=cookie)
                    ws.transport.abort()
            await asyncio.sleep(1)
            # The server is fine: a new socket works.
            async with websocket(
                server, "/ws/notifications/", host="acme.localhost", cookie=cookies["/ws/notifications/"]
            ) as ws:
                assert "notifications.unread" in await asyncio.wait_for(ws.recv(), 5)
        log.seek(0)
        text = log.read()
    await sync_to_async(connections.close_all)()
    assert "ERROR" not in text and "Traceback" not in text, text[-3000:]
