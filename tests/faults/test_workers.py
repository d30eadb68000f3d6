"""Several worker processes behind one Redis: one dies, one is told to stop."""

import asyncio
import contextlib
import signal

import pytest
from asgiref.sync import sync_to_async

from tests.factories import stream_seqs
from tests.faults.clients import StreamFollower, WebhookFeeder
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


@pytest.fixture
def two_workers(world, redis):
    with contextlib.ExitStack() as stack:
        env = {"REDIS_URL": redis.url}
        yield [stack.enter_context(uvicorn_server(extra_env=env)) for _ in range(2)]


async def test_every_event_reaches_sockets_on_both_workers(world, two_workers, feed_integration, staff_cookie):
    integration, secret = feed_integration
    a, b = two_workers
    on_a = StreamFollower([a], store_id=1, cookie=staff_cookie)
    on_b = StreamFollower([b], store_id=1, cookie=staff_cookie)
    for follower in (on_a, on_b):
        follower.start()
        await asyncio.wait_for(follower.live.wait(), 10)

    # Half the orders come in through each worker.
    feeder = WebhookFeeder([a, b], integration_id=integration.pk, secret=secret)
    await feeder.post(30, pause=0)
    for follower in (on_a, on_b):
        await follower.wait_until(lambda f=follower: f.last_seq == 30, 10, "all 30 events")
        await follower.stop()
        assert follower.seqs == list(range(1, 31))
        assert (follower.opened, follower.close_codes) == (1, [])  # live, on the one socket
    assert feeder.statuses == [200] * 30


async def test_a_killed_worker_s_clients_resume_on_another(world, two_workers, feed_integration, staff_cookie):
    integration, secret = feed_integration
    a, b = two_workers
    follower = StreamFollower([a, b], store_id=1, cookie=staff_cookie)  # starts on a
    feeder = WebhookFeeder([b], integration_id=integration.pk, secret=secret)
    follower.start()
    await asyncio.wait_for(follower.live.wait(), 10)
    await feeder.post(10)
    await follower.wait_until(lambda: follower.last_seq == 10, 10, "10 events on worker a")

    a.process.kill()  # SIGKILL: no close frame, no cleanup
    await feeder.post(20)
    await follower.wait_until(lambda: follower.last_seq == 30, 15, "the rest, on worker b")
    await follower.stop()

    assert follower.close_codes == [1006]  # the connection just dropped
    assert follower.seqs == list(range(1, 31))
    assert await sync_to_async(stream_seqs)(world.acme.tenant) == list(range(1, 31))


async def test_sigterm_closes_sockets_with_1012_and_clients_resume_elsewhere(
    world, two_workers, feed_integration, staff_cookie
):
    integration, secret = feed_integration
    a, b = two_workers
    follower = StreamFollower([a, b], store_id=1, cookie=staff_cookie)
    feeder = WebhookFeeder([b], integration_id=integration.pk, secret=secret)
    follower.start()
    await asyncio.wait_for(follower.live.wait(), 10)
    await feeder.post(10)
    await follower.wait_until(lambda: follower.last_seq == 10, 10, "10 events on worker a")

    a.process.send_signal(signal.SIGTERM)  # a deploy or a scale-down
    await feeder.post(20)
    await follower.wait_until(lambda: follower.last_seq == 30, 15, "the rest, on worker b")
    await follower.stop()

    assert follower.close_codes == [1012]  # "service restart": reconnect
    # After its graceful shutdown uvicorn re-raises the signal it caught.
    assert await asyncio.to_thread(a.process.wait, 10) == -signal.SIGTERM
    assert follower.seqs == list(range(1, 31))
