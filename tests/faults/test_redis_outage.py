"""Redis stops in the middle of a stream and comes back."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from tests.factories import create_order, session_cookie, stream_seqs
from tests.faults.clients import NotificationFollower, StreamFollower, WebhookFeeder
from tests.servers import uvicorn_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]


async def test_redis_down_mid_stream_loses_nothing_for_a_client_that_reconnects(
    world, redis, feed_integration, staff_cookie, staff_token
):
    integration, secret = feed_integration
    with uvicorn_server(extra_env={"REDIS_URL": redis.url, "LAYER_CHECK_SECONDS": "0.5"}) as server:
        follower = StreamFollower([server], store_id=1, cookie=staff_cookie)
        feeder = WebhookFeeder([server], integration_id=integration.pk, secret=secret)
        follower.start()
        await asyncio.wait_for(follower.live.wait(), 10)

        await feeder.post(15)
        await follower.wait_until(lambda: follower.last_seq == 15, 10, "the first 15 events live")

        redis.stop()
        # Orders keep arriving, by webhook and by staff over the API.
        await feeder.post(10)
        assert await asyncio.to_thread(feeder.change_status, 1, "accepted", token=staff_token) == 200
        await feeder.post(4)
        await follower.wait_until(lambda: len(follower.close_codes) >= 2, 15, "a close and a refused reconnect")
        # Closed, then refused while Redis is down: "try again later", not an error.
        assert set(follower.close_codes) == {1013}

        redis.start()
        await feeder.post(15)
        await follower.wait_until(lambda: follower.last_seq == 45, 20, "every event after Redis returned")
        await follower.stop()

    assert feeder.statuses == [200] * 45  # nothing refused, no 500
    assert follower.seqs == list(range(1, 46))  # every event, once, in order
    assert await sync_to_async(stream_seqs)(world.acme.tenant) == list(range(1, 46))


def customer_notification_ids(tenant, customer) -> list[int]:
    from alerts.models import Notification

    with tenant_context(tenant):
        return sorted(Notification.objects.filter(recipient=customer).values_list("id", flat=True))


async def test_redis_down_loses_no_alert_for_a_customer_who_reconnects(world, redis, staff_token):
    acme = world.acme
    order = await sync_to_async(create_order)(acme.tenant, customer=acme.customer)
    cookie = await sync_to_async(session_cookie)(acme.tenant, acme.customer)
    with uvicorn_server(extra_env={"REDIS_URL": redis.url, "LAYER_CHECK_SECONDS": "0.5"}) as server:
        bell = NotificationFollower([server], cookie=cookie)
        staff = WebhookFeeder([server], integration_id=0, secret="")
        bell.start()
        await asyncio.wait_for(bell.live.wait(), 10)

        assert await asyncio.to_thread(staff.change_status, order.pk, "accepted", token=staff_token) == 200
        await bell.wait_until(lambda: len(bell.ids) == 1, 10, "the first alert, live")

        redis.stop()
        assert await asyncio.to_thread(staff.change_status, order.pk, "preparing", token=staff_token) == 200
        await bell.wait_until(lambda: bell.close_codes, 15, "the socket to be closed")
        redis.start()
        await bell.wait_until(lambda: len(bell.ids) == 2, 20, "the alert made while Redis was down")

        assert await asyncio.to_thread(staff.change_status, order.pk, "ready", token=staff_token) == 200
        await bell.wait_until(lambda: len(bell.ids) == 3, 10, "the next alert, live again")
        await bell.stop()

    assert bell.close_codes[0] == 1013
    assert bell.ids == await sync_to_async(customer_notification_ids)(acme.tenant, acme.customer)


async def test_a_redis_that_stalls_closes_no_socket_and_loses_nothing(world, redis, feed_integration, staff_cookie):
    """A hang shorter than LAYER_CHECK_TIMEOUT is slowness, not an outage:
    closing every socket for it would cause the storm it fears. The pushes
    of the stall give up after PUBLISH_TIMEOUT_SECONDS; the open socket
    repairs from the database at its next heartbeat (or next frame)."""
    integration, secret = feed_integration
    env = {"REDIS_URL": redis.url, "LAYER_CHECK_SECONDS": "0.5", "STREAM_HEARTBEAT_SECONDS": "2"}
    with uvicorn_server(extra_env=env) as server:
        follower = StreamFollower([server], store_id=1, cookie=staff_cookie)
        feeder = WebhookFeeder([server], integration_id=integration.pk, secret=secret)
        follower.start()
        await asyncio.wait_for(follower.live.wait(), 10)
        await feeder.post(3)

        redis.pause()
        stalled = asyncio.create_task(feeder.post(3))  # their publishes run out of time
        await asyncio.sleep(5)  # ten layer checks' worth
        redis.resume()
        await stalled
        await follower.wait_until(lambda: follower.last_seq == 6, 15, "the events of the stall")
        await follower.stop()

    assert follower.close_codes == [] and follower.opened == 1  # one socket throughout
    assert follower.seqs == list(range(1, 7)) and feeder.statuses == [200] * 6


def group_subscriptions(redis_url: str) -> list[str]:
    """The group channels some worker is subscribed to, on that Redis."""
    import redis as redis_client

    client = redis_client.Redis.from_url(redis_url)
    try:
        names = [name.decode() for name in client.pubsub_channels()]
    finally:
        client.close()
    return sorted(name for name in names if "__group__" in name and not name.endswith("__group__access"))


async def test_after_an_outage_a_worker_is_subscribed_only_to_its_live_sockets_groups(world, redis):
    """Sockets closed while Redis is down cannot unsubscribe; once it is back
    the worker forgets those groups, keeping those of the sockets open now."""
    acme = world.acme
    cookies = {
        who: await sync_to_async(session_cookie)(acme.tenant, getattr(acme, who)) for who in ("customer", "staff1")
    }
    env = {"REDIS_URL": redis.url, "LAYER_CHECK_SECONDS": "0.5"}
    with uvicorn_server(extra_env=env) as server:
        bell = NotificationFollower([server], cookie=cookies["customer"])
        board = StreamFollower([server], store_id=1, cookie=cookies["staff1"])
        for client in (bell, board):
            client.start()
            await asyncio.wait_for(client.live.wait(), 10)
        before = await asyncio.to_thread(group_subscriptions, redis.url)
        assert len(before) == 2  # the customer's personal group and store 1's

        await board.stop()  # one client goes away for good...
        redis.stop()  # ...and Redis is down when its socket closes; the bell is closed with 1013 too
        await bell.wait_until(lambda: bell.close_codes, 15, "the bell to be closed")
        redis.start()
        await bell.wait_until(lambda: bell.opened == 2, 20, "the bell to be back")
        await asyncio.sleep(2)  # a few layer checks

        after = await asyncio.to_thread(group_subscriptions, redis.url)
        await bell.stop()
    assert after == [name for name in before if "notificaciones" in name]  # the store's group is gone


def redis_clients(url: str) -> int:
    import redis as redis_py

    client = redis_py.Redis.from_url(url)
    try:
        return client.info("clients")["connected_clients"] - 1  # not this one
    finally:
        client.close()


async def test_a_hung_redis_does_not_hold_up_webhooks_and_the_dashboard_resumes_by_seq(
    world, redis, feed_integration, staff_cookie
):
    """SIGSTOP: connections stay open and nothing answers. Each publish after
    commit gives up after PUBLISH_TIMEOUT_SECONDS (1 s), and the edge
    answers a batch before it publishes (the next batch waits for at most
    one batch's publishes), so the integrator gets its 200 within that; the
    events are in the stream, and the dashboard gets them by seq once Redis
    answers again."""
    integration, secret = feed_integration
    with uvicorn_server(extra_env={"REDIS_URL": redis.url, "LAYER_CHECK_SECONDS": "0.5"}) as server:
        follower = StreamFollower([server], store_id=1, cookie=staff_cookie)
        feeder = WebhookFeeder([server], integration_id=integration.pk, secret=secret)
        follower.start()
        await asyncio.wait_for(follower.live.wait(), 10)
        await feeder.post(3)
        await follower.wait_until(lambda: follower.last_seq == 3, 10, "the first 3 events live")
        clients_before = await asyncio.to_thread(redis_clients, redis.url)

        redis.pause()
        took = []
        try:
            for _ in range(6):
                started = time.monotonic()
                await asyncio.to_thread(feeder.post_one)
                took.append(time.monotonic() - started)
        finally:
            redis.resume()

        await feeder.post(2)
        await follower.wait_until(lambda: follower.last_seq == 11, 30, "every event after Redis answered again")
        clients_after = await asyncio.to_thread(redis_clients, redis.url)
        await follower.stop()

    assert feeder.statuses == [200] * 11
    assert max(took) < 1.5, f"webhook answers while Redis hung took {[round(t, 2) for t in took]} s"
    assert took[0] < 0.5, f"the first is answered before its publish gives up: {took[0]:.2f} s"
    assert follower.seqs == list(range(1, 12))  # every event, once, in order
    assert await sync_to_async(stream_seqs)(world.acme.tenant) == list(range(1, 12))
    # A publish that timed out closes its connection; none is left behind
    # per timeout (the follower may have reconnected: a few more at most).
    assert clients_after <= clients_before + 3, (clients_before, clients_after)
