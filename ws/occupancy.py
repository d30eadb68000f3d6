"""Which channel-layer groups have a member right now, on any worker.

The only module that reads channels-redis' internals (`_get_layer`,
`_get_group_channel_name`, `_get_shard`, `_shards`, `_ensure_redis`,
`_redis`, `_pubsub`, `_lock`, `_subscribed_to`, and the loop layer's
`groups` and `channels`): the
pub/sub layer keeps no membership of its own, but Redis knows which group
channels some worker is subscribed to (PUBSUB NUMSUB). Written against
channels-redis 4.3.0, pinned exactly in pyproject.toml; a test fails on
any other version (tests/ws/test_occupancy.py), so an upgrade is a
deliberate step that re-reads these internals.

Supported layers: the in-memory layer (one process, `make run` without
Redis) and channels-redis' pub/sub layer (production). channels-redis' core
layer is not supported (it stores a copy per member and drops silently
above its capacity: docs/performance.md); any other layer is answered
"everyone is online", which costs sends but loses nothing.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

logger = logging.getLogger(__name__)

WRITTEN_FOR_CHANNELS_REDIS = "4.3.0"
CHUNK = 5000  # channels per NUMSUB: one round trip answers for thousands


def groups_with_members(group_names: list[str]) -> set[str]:
    """Which of these groups have at least one socket in them right now.

    Fan-out to thousands of per-user groups asks this first, so that only
    users with an open socket cost a send; the others find their inbox copy
    on connect. A socket that joins after the check reads the database after
    joining, and the copies are committed before the check: nothing is lost.
    If Redis cannot tell, every group counts as occupied.
    """

    async def check() -> set[str]:
        layer = get_channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            return {name for name in group_names if layer.groups.get(name)}
        if isinstance(layer, RedisPubSubChannelLayer):
            return await _pubsub_occupied(layer, group_names)
        return set(group_names)

    try:
        return async_to_sync(check)()
    except Exception:
        logger.exception("could not tell which groups are occupied; sending to all")
        return set(group_names)


async def _pubsub_occupied(layer: RedisPubSubChannelLayer, group_names: list[str]) -> set[str]:
    loop_layer = layer._get_layer()
    by_shard: dict[int, tuple] = {}
    for name in group_names:
        channel = loop_layer._get_group_channel_name(name)
        shard = loop_layer._get_shard(channel)
        by_shard.setdefault(id(shard), (shard, []))[1].append((name, channel))
    occupied = set()
    for shard, pairs in by_shard.values():
        shard._ensure_redis()
        for start in range(0, len(pairs), CHUNK):
            chunk = pairs[start : start + CHUNK]
            counts = await shard._redis.pubsub_numsub(*(channel for _, channel in chunk))
            occupied.update(name for (name, _), (_, count) in zip(chunk, counts, strict=True) if count)
    return occupied


async def forget_stale_subscriptions() -> int:
    """Unsubscribe this worker (this event loop's layer) from group channels
    that no socket here is in any more; return how many.

    A socket that closes while Redis is down cannot unsubscribe: the
    pub/sub layer forgets the membership first, then fails to send the
    UNSUBSCRIBE, and redis-py subscribes again to everything it still holds
    once Redis is back. Without this, the worker would keep hearing (and
    dropping) messages for groups nobody here is in, and `groups_with_members`
    would count those users as online, until the worker restarts.
    """
    layer = get_channel_layer()
    if not isinstance(layer, RedisPubSubChannelLayer):
        return 0
    loop_layer = layer._get_layer()
    forgotten = 0
    for shard in loop_layer._shards:
        if shard._pubsub is None:
            continue
        # redis-py's own list is what it subscribes to again after a
        # reconnect; channels-redis' may already have dropped a name.
        held = set(shard._subscribed_to) | {_text(name) for name in shard._pubsub.channels}
        stale = [name for name in held if name not in loop_layer.groups and name not in loop_layer.channels]
        for name in stale:
            # Checked again under the shard's lock, which group_add's
            # SUBSCRIBE takes too: a socket joining this group meanwhile keeps it.
            async with shard._lock:
                if name not in loop_layer.groups and name not in loop_layer.channels:
                    await shard._pubsub.unsubscribe(name)
                    shard._subscribed_to.discard(name)
                    forgotten += 1
    return forgotten


def _text(name) -> str:
    return name.decode() if isinstance(name, bytes) else name
