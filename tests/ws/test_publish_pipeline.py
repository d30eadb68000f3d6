"""Batches of publishes go to a real Redis pipelined (ws.layer._publish_pipelined
uses channels-redis' pub/sub internals, pinned at 4.3): every message
reaches its group's subscribers, in order, and a notification to many
people reaches each of their sockets in another process, after commit."""

import asyncio
import json
import os

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from alerts.services import notifications_create_many
from tests.factories import session_cookie
from tests.servers import uvicorn_server, websocket
from ws import layer

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
]


def gathered(messages) -> int:
    """What a committing writer does (the webhook batcher): publish inside
    `publishes_gathered`, sent together on leaving it."""
    with layer.publishes_gathered():
        for message in messages:
            layer.publish_now(message[0], message[1], seq=message[2])
    return 0


@pytest.mark.parametrize("send", [layer.publish_many_now, gathered], ids=["many", "gathered"])
async def test_a_pipelined_batch_reaches_every_group_in_order(monkeypatch, send):
    channel_layer = get_channel_layer()
    assert layer._pipelines(channel_layer)
    monkeypatch.setattr(layer, "PIPELINE_SIZE", 7)  # several round trips per shard
    groups = [f"pipeline-test.{n}" for n in range(3)]
    channels = {}
    for group in groups:
        channels[group] = await channel_layer.new_channel("pipeline-test.")
        await channel_layer.group_add(group, channels[group])
    messages = [(groups[n % 3], json.dumps({"n": n}), n) for n in range(60)]

    pipelined = []
    real = layer._publish_pipelined

    async def counting(channel_layer, batch):
        pipelined.append(len(batch))
        return await real(channel_layer, batch)

    monkeypatch.setattr(layer, "_publish_pipelined", counting)
    failed = await sync_to_async(send)(messages)

    assert failed == 0
    assert pipelined == [60], "one pipelined batch, not a round trip per message"
    for group in groups:
        received = [await asyncio.wait_for(channel_layer.receive(channels[group]), 5) for _ in range(20)]
        assert [m["seq"] for m in received] == [n for n in range(60) if groups[n % 3] == group]
        assert all(m["type"] == layer.FORWARD and m["group"] == group for m in received)
        assert [json.loads(m["text"])["n"] for m in received] == [m["seq"] for m in received]
    for group in groups:
        await channel_layer.group_discard(group, channels[group])


@pytest.fixture
def server(world):
    with uvicorn_server() as server:
        yield server
    connections.close_all()


def create_for_everyone(cast, title, *, roll_back=False):
    with tenant_context(cast.tenant):
        try:
            with transaction.atomic():
                created = notifications_create_many(
                    recipients=[cast.customer, cast.staff1, cast.staff2], kind="system", title=title
                )
                if roll_back:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            return []
        return created


@pytest.mark.django_db(transaction=True)
async def test_a_bulk_create_reaches_each_recipient_once_after_commit(server, world):
    acme, globex = world.acme, world.globex
    people = [acme.customer, acme.staff1, globex.customer]  # globex.customer shares acme.customer's id
    hosts = ["acme.localhost", "acme.localhost", "globex.localhost"]
    tenants = [acme.tenant, acme.tenant, globex.tenant]
    sockets = []
    for user, host, tenant in zip(people, hosts, tenants, strict=True):
        cookie = await sync_to_async(session_cookie)(tenant, user)
        ws = await websocket(server, "/ws/notifications/", host=host, cookie=cookie)
        sockets.append(ws)
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "notifications.unread"

    assert await sync_to_async(create_for_everyone)(acme, "never", roll_back=True) == []
    created = await sync_to_async(create_for_everyone)(acme, "for all of you")

    by_recipient = {n.recipient_id: n.pk for n in created}
    for user, ws in zip(people[:2], sockets[:2], strict=True):
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert frame["type"] == "notification.created"
        assert frame["notification"]["id"] == by_recipient[user.pk]
        assert frame["notification"]["title"] == "for all of you"  # the rolled-back one never came
        assert frame["unread_count"] == 1
    # The other tenant's user with the same id hears nothing.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sockets[2].recv(), 0.5)
    for ws in sockets:
        await ws.close()
