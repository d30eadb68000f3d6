"""PostgreSQL restarts under a running server: 503s meanwhile, then recovery
without restarting the server."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest
from django.db import connection

from tests.faults.clients import StreamFollower, WebhookFeeder
from tests.faults.services import private_postgres
from tests.servers import uvicorn_server, websocket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


def get(server, path: str, *, token: str | None = None, host: str = "acme.localhost"):
    headers = {"Host": host, **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"{}")


@pytest.fixture
def postgres(world, feed_integration, staff_token, staff_cookie):
    # Everything the test uses exists before the copy is taken.
    with private_postgres(connection.settings_dict) as postgres:
        yield postgres


async def test_postgres_restart_gives_503s_then_recovers_without_a_server_restart(
    postgres, feed_integration, staff_token, staff_cookie
):
    integration, secret = feed_integration
    env = {"DATABASE_URL": postgres.url, "DB_POOL_TIMEOUT": "1"}
    with uvicorn_server(extra_env=env) as server:
        feeder = WebhookFeeder([server], integration_id=integration.pk, secret=secret)
        assert await asyncio.to_thread(feeder.post_one) == 200
        status, _, body = await asyncio.to_thread(get, server, "/api/stores/1/orders", token=staff_token)
        assert (status, body["count"]) == (200, 1)
        # A dashboard opens before the stop: the worker's read connections
        # (ws/reads.py) exist, and die with the server.
        before = StreamFollower([server], store_id=1, cookie=staff_cookie)
        before.start()
        await before.wait_until(lambda: before.opened, 15, "a socket before the restart")
        await before.stop()

        await asyncio.to_thread(postgres.stop)

        status, headers, body = await asyncio.to_thread(get, server, "/api/stores/1/orders", token=staff_token)
        assert status == 503 and body["error"]["code"] == "unavailable" and headers["Retry-After"] == "5"
        assert await asyncio.to_thread(feeder.post_one) == 503  # the integrator retries later
        assert (await asyncio.to_thread(get, server, "/healthz"))[0] == 503
        async with websocket(server, "/ws/stores/1/orders/", host="acme.localhost", cookie=staff_cookie) as ws:
            await ws.wait_closed()
            assert ws.close_code == 1013

        await asyncio.to_thread(postgres.start)

        follower = StreamFollower([server], store_id=1, cookie=staff_cookie)
        follower.start()
        await follower.wait_until(lambda: follower.opened, 15, "a socket after the restart")
        # The same server process, and every pooled connection replaced. A
        # dashboard reads on the worker's own connections (ws/reads.py), so
        # its opening says nothing of the pool: requests may still get a
        # 503 for a few seconds while the pool reconnects.
        assert server.process.poll() is None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        status, _, body = await asyncio.to_thread(get, server, "/api/stores/1/orders", token=staff_token)
        while status == 503 and loop.time() < deadline:
            await asyncio.sleep(0.5)
            status, _, body = await asyncio.to_thread(get, server, "/api/stores/1/orders", token=staff_token)
        assert (status, body["count"]) == (200, 1)
        assert await asyncio.to_thread(feeder.post_one) == 200
        await follower.wait_until(lambda: follower.last_seq == 2, 10, "the order made after the restart, live")
        await follower.stop()
    assert feeder.statuses == [200, 503, 200]
