"""Scaling Redis out: the channel layer sharded over two Redis servers.

REDIS_URL lists both; channels-redis' pub/sub layer puts each group on the
server a hash of its name picks. Two workers share both servers: every
store event and every personal alert still reaches every socket, on
either worker, and each group lives on exactly the server the hash names.
"""

import asyncio
import contextlib
import json
import os

import pytest
from asgiref.sync import sync_to_async
from channels_redis.utils import _consistent_hash
from django_tenants.utils import tenant_context

from tests.factories import session_cookie, stream_seqs
from tests.faults.clients import NotificationFollower, StreamFollower, WebhookFeeder
from tests.faults.services import PrivateRedis, PrivateSentinel, private_redis
from tests.servers import uvicorn_server
from ws import groups

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.faults]

PREFIX = os.environ.get("PREGON_TEST_LAYER_PREFIX", "pregon-test")  # tests/settings.py


def shard_of(group: str) -> int:
    """The server (0 or 1) the layer puts this group on."""
    return _consistent_hash(f"{PREFIX}__group__{group}", 2)


def store_on_the_other_shard(cast) -> int:
    """A store of `cast`'s tenant, staffed by staff1, whose group lives on the
    other server than store 1's (so both servers carry a followed stream)."""
    from stores.models import StaffMembership, Store

    first = shard_of(groups.store_orders(cast.tenant, 1))
    with tenant_context(cast.tenant):
        store_id = next(i for i in range(3, 100) if shard_of(groups.store_orders(cast.tenant, i)) != first)
        store = Store.objects.create(id=store_id, name=f"other shard {store_id}")
        StaffMembership.objects.create(user=cast.staff1, store=store)
    return store_id


def subscribed_groups(url: str) -> set[str]:
    import redis

    client = redis.Redis.from_url(url)
    try:
        names = {name.decode() for name in client.pubsub_channels(f"{PREFIX}__group__*")}
    finally:
        client.close()
    return {name.removeprefix(f"{PREFIX}__group__") for name in names if not name.endswith("__group__access")}


def admin_token(cast) -> str:
    from platform_core.tokens import api_token_create

    with tenant_context(cast.tenant):
        return api_token_create(user=cast.admin, name="shards")[1]


async def test_two_workers_over_two_redis_shards_deliver_everything(world, feed_integration, staff_cookie):
    acme = world.acme
    integration, secret = feed_integration
    other = await sync_to_async(store_on_the_other_shard)(acme)
    customer_cookie = await sync_to_async(session_cookie)(acme.tenant, acme.customer)
    token = await sync_to_async(admin_token)(acme)

    with private_redis() as first, private_redis() as second, contextlib.ExitStack() as stack:
        env = {"REDIS_URL": f"{first.url},{second.url}"}
        a, b = (stack.enter_context(uvicorn_server(extra_env=env)) for _ in range(2))
        # Each store's stream followed on both workers; the bell on one.
        boards = [
            StreamFollower([server], store_id=store_id, cookie=staff_cookie)
            for store_id in (1, other)
            for server in (a, b)
        ]
        bell = NotificationFollower([b], cookie=customer_cookie)
        for client in (*boards, bell):
            client.start()
            await asyncio.wait_for(client.live.wait(), 10)

        # Each group is on the server its hash names, and both servers carry some.
        store_groups = {groups.store_orders(acme.tenant, store_id) for store_id in (1, other)}
        placed = [await asyncio.to_thread(subscribed_groups, url) for url in (first.url, second.url)]
        assert placed[0].isdisjoint(placed[1])
        for group in store_groups | {groups.user_notifications(acme.tenant, acme.customer.pk)}:
            assert group in placed[shard_of(group)], (group, placed)
        assert all(store_groups & shard for shard in placed)

        # Orders through both workers, to both stores.
        feeder = WebhookFeeder([a, b], integration_id=integration.pk, secret=secret)
        for _ in range(10):
            for store_id in (1, other):
                await asyncio.to_thread(feeder.post_one, store_id=store_id)
        for board in boards:
            await board.wait_until(lambda board=board: board.last_seq == 10, 10, f"store {board.store_id}'s events")

        # An announcement posted on worker a reaches the customer's bell on
        # worker b: who is online is asked of the shard that holds the group.
        body = json.dumps({"title": "sharded", "audience": "customers"})
        status = await asyncio.to_thread(
            feeder._post, a, "/api/announcements", body, {"Authorization": f"Bearer {token}"}
        )
        assert status == 201
        await bell.wait_until(lambda: len(bell.ids) == 1, 10, "the announcement")
        for client in (*boards, bell):
            await client.stop()

    assert feeder.statuses[:20] == [200] * 20
    for board in boards:
        assert board.seqs == list(range(1, 11)) and board.close_codes == []
    assert await sync_to_async(stream_seqs)(acme.tenant, other) == list(range(1, 11))


async def test_a_sentinel_failover_loses_no_event(world, feed_integration, staff_cookie):
    """The master Redis dies; Sentinel promotes its replica; the layer finds
    the new master through the sentinels, and dashboards resume by seq."""
    integration, secret = feed_integration
    with contextlib.ExitStack() as stack:
        master = PrivateRedis()
        master.start()
        stack.callback(master.stop)
        replica = PrivateRedis("--replicaof", "127.0.0.1", str(master.port))
        replica.start()
        stack.callback(replica.stop)
        sentinel = PrivateSentinel(master)
        stack.callback(sentinel.stop)
        env = {
            "REDIS_URL": "redis://127.0.0.1:1/0",  # nothing there: only the sentinels lead to Redis
            "REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}",
            "REDIS_SENTINEL_MASTER": PrivateSentinel.NAME,
            "LAYER_CHECK_SECONDS": "0.5",
        }
        server = stack.enter_context(uvicorn_server(extra_env=env))
        follower = StreamFollower([server], store_id=1, cookie=staff_cookie)
        feeder = WebhookFeeder([server], integration_id=integration.pk, secret=secret)
        follower.start()
        await asyncio.wait_for(follower.live.wait(), 10)
        await feeder.post(5)
        await follower.wait_until(lambda: follower.last_seq == 5, 10, "the first events, live")

        master.stop()  # killed: the sentinel sees it down after 1 s and fails over
        await feeder.post(5)  # orders keep being saved meanwhile
        deadline = asyncio.get_running_loop().time() + 30
        while await asyncio.to_thread(sentinel.master_port) != replica.port:
            assert asyncio.get_running_loop().time() < deadline, "no failover"
            await asyncio.sleep(0.2)
        await follower.wait_until(lambda: follower.last_seq == 10, 20, "the events of the failover")

        await feeder.post(5)
        await follower.wait_until(lambda: follower.last_seq == 15, 10, "events after the failover")
        opened_after = follower.opened
        await follower.stop()

    assert feeder.statuses == [200] * 15  # nothing refused while Redis failed over
    assert follower.seqs == list(range(1, 16))  # every event, once, in order
    assert opened_after >= 1 and set(follower.close_codes) <= {1013, 1006}
