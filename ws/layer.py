"""The one way out to the sockets. Nothing else touches the channel layer
for sending.

A publish happens only after the transaction that produced the event
commits, so no socket ever hears of a row that was rolled back. A failed
publish is logged and reported, never raised: the data is already saved,
and clients recover it from the database (unread replay, `seq` resume).
"""

import asyncio
import logging
import threading
import time
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction

from ws.events import Frame, to_json

logger = logging.getLogger(__name__)

# The consumer method that receives published frames (`event.forward` →
# `event_forward`): it sends the pre-serialized text as it is.
FORWARD = "event.forward"


def publish_on_commit(group: str, frame: Frame, *, seq: int | None = None) -> str:
    """Send `frame` to `group` once the current transaction commits.

    The frame is serialized now, once, so later changes to the rows it was
    built from cannot alter what was committed; the text is returned for
    callers that also store it. `seq` (store streams) travels beside the
    text so consumers can order and deduplicate without parsing it.
    """
    text = to_json(frame)
    transaction.on_commit(lambda: publish_now(group, text, seq=seq))
    return text


def publish_now(group: str, text: str, *, seq: int | None = None) -> None:
    """Send already-committed, serialized text to a group (sync callers)."""
    try:
        async_to_sync(channel_layer().group_send)(group, _message(group, text, seq))
    except Exception:
        _failures.report(f"publish to {group} failed")


def _message(group: str, text: str, seq: int | None = None) -> dict:
    # `group` lets a worker's hub (ws/hub.py) route the one copy it receives;
    # `seq` is the frame's position (a store's seq, a notification's id).
    message = {"type": FORWARD, "text": text, "group": group}
    if seq is not None:
        message["seq"] = seq
    return message


def publish_many_now(messages: list[tuple], *, concurrency: int = 100) -> int:
    """Send many (group, text) or (group, text, seq) tuples, `concurrency` at
    a time; return how many failed.

    For fan-out after a commit (announcements): one group per recipient,
    sent concurrently so ten thousand sends take Redis round trips in
    parallel, not one after another. Failures are logged, never raised.
    Keep `concurrency` at or below channels-redis' connection pool per host
    (100): above it, sends fail with MaxConnectionsError (measured).
    """

    async def send_all() -> int:
        layer = channel_layer()
        failed = 0
        for start in range(0, len(messages), concurrency):
            chunk = messages[start : start + concurrency]
            results = await asyncio.gather(
                *(layer.group_send(group, _message(group, text, *seq)) for group, text, *seq in chunk),
                return_exceptions=True,
            )
            failed += sum(isinstance(result, Exception) for result in results)
        return failed

    try:
        failed = async_to_sync(send_all)()
    except Exception:
        failed = len(messages)
    if failed:
        _failures.report(f"{failed} of {len(messages)} publishes failed", exc_info=False)
    return failed


class _FailureReports:
    """While Redis is down every publish fails: log the first failure (logged
    errors reach Sentry), then at most one line per REPORT_SECONDS with the
    count, not one per event."""

    REPORT_SECONDS = 30

    def __init__(self):
        self.lock = threading.Lock()
        self.last = float("-inf")
        self.quiet = 0

    def report(self, what: str, *, exc_info: bool = True) -> None:
        with self.lock:
            now = time.monotonic()
            if now - self.last < self.REPORT_SECONDS:
                self.quiet += 1
                return
            quiet, self.quiet, self.last = self.quiet, 0, now
        logger.error(
            "%s; clients will recover from the database (%d more failures not logged since the last report)",
            what, quiet, exc_info=exc_info,
        )


_failures = _FailureReports()


EXISTS_MANY = "local found = {} for i, key in ipairs(KEYS) do found[i] = redis.call('EXISTS', key) end return found"


def groups_with_members(group_names: list[str]) -> set[str]:
    """Which of these groups have at least one socket in them right now.

    Uses what each channels-redis layer keeps in Redis (the core layer's
    group sorted sets, the pub/sub layer's subscriptions); a layer this does
    not know is treated as "everyone is online".

    Fan-out to thousands of per-user groups asks this first, so that only
    users with an open socket cost a send; the others find their inbox copy
    on connect. One pipelined EXISTS per Redis host, not one round trip per
    group. A socket that joins after the check reads the database after
    joining, and the copies are committed before the check: nothing is lost.
    """

    async def check() -> set[str]:
        layer = channel_layer()
        if isinstance(layer, InMemoryChannelLayer):
            return {name for name in group_names if layer.groups.get(name)}
        if isinstance(layer, RedisChannelLayer):
            by_host: dict[int, list[str]] = defaultdict(list)
            for name in group_names:
                by_host[layer.consistent_hash(name)].append(name)
            occupied = set()
            for index, names in by_host.items():
                connection = layer.connection(index)
                for start in range(0, len(names), 5000):
                    chunk = names[start : start + 5000]
                    # channels-redis keeps a group as one sorted set under
                    # this key; Redis deletes it with its last member. One
                    # script call answers for thousands of keys.
                    found = await connection.eval(EXISTS_MANY, len(chunk), *(layer._group_key(n) for n in chunk))
                    occupied.update(name for name, exists in zip(chunk, found) if exists)
            return occupied
        if isinstance(layer, RedisPubSubChannelLayer):
            # The pub/sub layer keeps no membership in Redis, but Redis knows
            # which group channels some worker is subscribed to.
            loop_layer = layer._get_layer()
            by_shard: dict[int, tuple] = {}
            for name in group_names:
                channel = loop_layer._get_group_channel_name(name)
                shard = loop_layer._get_shard(channel)
                by_shard.setdefault(id(shard), (shard, []))[1].append((name, channel))
            occupied = set()
            for shard, pairs in by_shard.values():
                shard._ensure_redis()
                for start in range(0, len(pairs), 5000):
                    chunk = pairs[start : start + 5000]
                    counts = await shard._redis.pubsub_numsub(*(channel for _, channel in chunk))
                    occupied.update(name for (name, _), (_, count) in zip(chunk, counts) if count)
            return occupied
        return set(group_names)  # another layer: assume everyone is online

    try:
        return async_to_sync(check)()
    except Exception:
        logger.exception("could not tell which groups are occupied; sending to all")
        return set(group_names)


def channel_layer():
    return get_channel_layer()
