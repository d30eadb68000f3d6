"""The one way out to the sockets. Nothing else touches the channel layer
for sending.

Domain code names an audience, never a group string (as Zulip's
`send_event(realm, event, users)`): `publish_to_store` (every dashboard of
a store), `publish_to_user` (every socket of a person), `publish_to_users`
(one frame each to many people, sent together after the commit), and,
after a commit, `publish_to_users_now` for fan-out to many people. The audience is
of the active tenant (`connection.tenant`); group names are built in
ws/groups.py only.

A publish happens only after the transaction that produced the event
commits, so no socket ever hears of a row that was rolled back. A failed
publish is logged and reported, never raised: the data is already saved,
and clients recover it from the database (unread replay, `seq` resume).

Every publish is also bounded in time (PUBLISH_TIMEOUT_SECONDS; a batch,
PUBLISH_BATCH_TIMEOUT_SECONDS): a Redis that hangs without an error (a
stopped process, a dead host behind a live TCP connection) answers nothing,
and the request that committed would wait for it before its response. A
publish that runs out of time is reported like a failed one.
"""

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings
from django.db import connection, transaction

from ws import groups
from ws.events import Frame, to_json
from ws.occupancy import groups_with_members

logger = logging.getLogger(__name__)

# The type of every published frame. The worker's hub (ws/hub.py) hands it
# to each local socket of its group (`deliver`), which sends the
# pre-serialized text as it is.
FORWARD = "event.forward"


def publish_to_store(store_id: int, frame: Frame, *, seq: int | None = None) -> str:
    """After commit: `frame` to every dashboard of store `store_id` of the
    active tenant. `seq` is its place in the store's stream (None for
    presence). Returns the serialized frame (the stream stores it)."""
    return publish_on_commit(groups.store_orders(connection.tenant, store_id), frame, seq=seq)


def publish_to_user(user_id: int, frame: Frame, *, seq: int | None = None, extra: dict | None = None) -> str:
    """After commit: `frame` to every socket of user `user_id` of the active
    tenant. `seq` is a notification's id (the bell's position); `extra`
    (JSON primitives) travels beside the text for the receiving sockets
    (what a socket in another language re-renders from, alerts/consumers.py)."""
    return publish_on_commit(groups.user_notifications(connection.tenant, user_id), frame, seq=seq, extra=extra)


def publish_to_users(messages: list[tuple]) -> None:
    """After commit: each (user id, frame, seq[, extra]) to every socket of
    that user of the active tenant, all in one batch (one Redis round trip,
    see `publish_many_now`), within PUBLISH_TIMEOUT_SECONDS like one publish."""
    if not messages:
        return
    tenant = connection.tenant
    batch = [(groups.user_notifications(tenant, user_id), to_json(frame), *rest) for user_id, frame, *rest in messages]
    timeout = settings.PUBLISH_TIMEOUT_SECONDS
    transaction.on_commit(lambda: publish_many_now(batch, timeout=timeout))


def publish_to_users_now(messages: list[tuple[int, str, int | None]]) -> int:
    """Already committed and serialized: (user id, text, seq) to each user of
    the active tenant, many at once; returns how many sends failed."""
    tenant = connection.tenant
    return publish_many_now(
        [(groups.user_notifications(tenant, user_id), text, seq) for user_id, text, seq in messages]
    )


def users_online(user_ids) -> set[int]:
    """Which of these users of the active tenant have a socket open now, on
    any worker (fan-out sends only to them; the others read their inbox on
    connect)."""
    tenant = connection.tenant
    by_group = {groups.user_notifications(tenant, user_id): user_id for user_id in user_ids}
    return {by_group[name] for name in groups_with_members(list(by_group))}


def publish_on_commit(group: str, frame: Frame, *, seq: int | None = None, extra: dict | None = None) -> str:
    """Send `frame` to `group` once the current transaction commits.

    The frame is serialized now, once, so later changes to the rows it was
    built from cannot alter what was committed; the text is returned for
    callers that also store it. `seq` (store streams) travels beside the
    text so consumers can order and deduplicate without parsing it.
    """
    text = to_json(frame)
    transaction.on_commit(lambda: publish_now(group, text, seq=seq, extra=extra))
    return text


_gathering = threading.local()


@contextlib.contextmanager
def publishes_gathered(kept: list | None = None):
    """Within this block (sync code, one thread), `publish_now` only
    collects; on leaving it, everything collected is sent at once: the
    groups concurrently, each group's frames one after another in the order
    collected (a store's seqs stay in order on the wire).

    For a writer that commits many events in one transaction (the webhook
    batcher): one hop to the event loop and overlapping Redis round trips,
    instead of one hop and one round trip after another per event. Leave
    the block only after the commit: what it collected is committed.

    `kept`: what was collected is added to this list instead, for the
    caller to send later from its event loop (`send_in_order`): the webhook
    batcher answers its requests first, and sends while its next batch runs.
    """
    if getattr(_gathering, "messages", None) is not None:
        yield  # nested: the outer block sends
        return
    _gathering.messages = []
    try:
        yield
    finally:
        messages, _gathering.messages = _gathering.messages, None
        if kept is not None:
            kept.extend(messages)
        elif messages:
            try:
                async_to_sync(send_in_order)(messages)
            except Exception:  # noqa: BLE001 - no loop to send from; reported, never raised
                _failures.report(f"{len(messages)} publishes failed")


async def send_in_order(messages: list[tuple], *, concurrency: int = 100) -> None:
    """Send what a `publishes_gathered` block collected, as leaving it does.
    One commit's publishes, waited for by the requests it answers: bounded
    as one publish is (PUBLISH_TIMEOUT_SECONDS), not as a fan-out batch.
    Failures are reported, never raised."""
    timeout = settings.PUBLISH_TIMEOUT_SECONDS
    by_group: dict[str, list[tuple]] = {}
    for message in messages:
        by_group.setdefault(message[0], []).append(message)
    sent = 0

    async def send_group(layer, group_messages) -> None:
        nonlocal sent
        for group, text, *rest in group_messages:
            await layer.group_send(group, _message(group, text, *rest))
            sent += 1

    async def send_all() -> None:
        nonlocal sent
        layer = get_channel_layer()
        queues = list(by_group.values())
        async with asyncio.timeout(timeout):
            if _pipelines(layer):
                # One pipeline per shard, in the order collected: a group
                # always maps to the same shard, so its frames stay in order.
                sent += await _publish_pipelined(layer, messages)
                return
            for start in range(0, len(queues), concurrency):
                chunk = queues[start : start + concurrency]
                await asyncio.gather(*(send_group(layer, queue) for queue in chunk), return_exceptions=True)

    why = await _sends_run(send_all, timeout)
    if sent < len(messages):
        _failures.report(f"{len(messages) - sent} of {len(messages)} publishes failed{why}", exc_info=False)


def publish_now(group: str, text: str, *, seq: int | None = None, extra: dict | None = None) -> None:
    """Send already-committed, serialized text to a group (sync callers),
    giving up after PUBLISH_TIMEOUT_SECONDS."""
    gathered = getattr(_gathering, "messages", None)
    if gathered is not None:
        gathered.append((group, text, seq, extra))
        return
    timeout = settings.PUBLISH_TIMEOUT_SECONDS
    try:
        async_to_sync(_send_within)(timeout, group, _message(group, text, seq, extra))
    except TimeoutError:
        _failures.report(f"publish to {group} timed out after {timeout:g} s", exc_info=False)
    except Exception:
        _failures.report(f"publish to {group} failed")


async def _send_within(timeout: float, group: str, message: dict) -> None:
    # Cancelling a group_send of channels-redis' pub/sub layer leaves nothing
    # behind: it is awaited here, not spawned, so no task outlives it; a
    # cancelled wait for the shard's lock sends nothing; and redis-py closes
    # a connection whose command was cancelled mid-way (it could not tell
    # the pending reply from the next one), so no half-used connection goes
    # back to the pool. What was already written to the socket may still be
    # run by Redis when it wakes: a late copy, which consumers drop by seq
    # (store streams) or by id (bells).
    async with asyncio.timeout(timeout):
        await get_channel_layer().group_send(group, message)


def _message(group: str, text: str, seq: int | None = None, extra: dict | None = None) -> dict:
    # `group` lets a worker's hub (ws/hub.py) route the one copy it receives;
    # `seq` is the frame's position (a store's seq, a notification's id);
    # `extra` is for the receiving sockets, beside the text (never a key above).
    message = {"type": FORWARD, "text": text, "group": group}
    if extra:
        message = {**extra, **message}
    if seq is not None:
        message["seq"] = seq
    return message


def publish_many_now(messages: list[tuple], *, concurrency: int = 100, timeout: float | None = None) -> int:
    """Send many (group, text) or (group, text, seq) tuples; return how many
    failed. For what a commit produced for many groups (a notification to
    each of its recipients, an announcement's fan-out).

    On channels-redis' pub/sub layer the PUBLISHes go out pipelined, up to
    PIPELINE_SIZE per round trip on each shard (`_publish_pipelined`): a
    thousand notifications cost a few round trips, not a thousand. Any
    other layer (the in-memory one of local runs and tests) gets its
    `group_send`s `concurrency` at a time; keep that at or below
    channels-redis' connection pool per host (100): above it, sends fail
    with MaxConnectionsError (measured).

    The whole batch has `timeout` (default PUBLISH_BATCH_TIMEOUT_SECONDS):
    what is not sent by then (a hung Redis: nothing) is cancelled and
    counted as failed, and its recipients find it in their inbox when they
    reconnect. Failures are logged, never raised.
    """
    timeout = settings.PUBLISH_BATCH_TIMEOUT_SECONDS if timeout is None else timeout
    sent = 0

    async def send(layer, group: str, text: str, *seq: int | None) -> None:
        nonlocal sent
        await layer.group_send(group, _message(group, text, *seq))
        sent += 1

    async def send_all() -> None:
        nonlocal sent
        layer = get_channel_layer()
        # On timeout, gather cancels the sends in flight and waits for them
        # to finish: none outlives the batch.
        async with asyncio.timeout(timeout):
            if _pipelines(layer):
                sent += await _publish_pipelined(layer, messages)
                return
            for start in range(0, len(messages), concurrency):
                chunk = messages[start : start + concurrency]
                await asyncio.gather(*(send(layer, *message) for message in chunk), return_exceptions=True)

    why = _run_sends(send_all, timeout)
    failed = len(messages) - sent
    if failed:
        _failures.report(f"{failed} of {len(messages)} publishes failed{why}", exc_info=False)
    return failed


def _run_sends(send_all, timeout: float) -> str:
    """Run a batch of sends from sync code; why it stopped short ("" if it
    did not say). The caller counts what was sent and reports the rest."""
    try:
        return async_to_sync(_sends_run)(send_all, timeout)
    except Exception as error:  # noqa: BLE001 - no loop to send from: counted as failed
        return f" ({error!r})"


async def _sends_run(send_all, timeout: float) -> str:
    try:
        await send_all()
    except TimeoutError:
        return f" (out of time after {timeout:g} s)"
    except Exception as error:  # whatever was not sent is counted by the caller
        return f" ({error!r})"
    return ""


PIPELINE_SIZE = 1000


def _pipelines(layer) -> bool:
    return isinstance(layer, RedisPubSubChannelLayer)


async def _publish_pipelined(layer: RedisPubSubChannelLayer, messages: list[tuple]) -> int:
    """PUBLISH every message through the layer's own connection to its
    shard, pipelined; return how many went out.

    channels-redis (4.3, pinned) has no batch send, so this uses the pub/sub
    layer's own pieces, exactly as its `group_send` does: the group's
    channel name and shard, its serializer, the shard's connection and
    lock (held for the round trip, as one `publish` holds it).
    tests/ws/test_publish_pipeline.py checks against a real Redis that what
    is sent this way reaches subscribers, in order, so an upgrade that
    moves these pieces fails there.
    """
    loop_layer = layer._get_layer()
    by_shard: dict = defaultdict(list)
    for group, text, *seq in messages:
        channel = loop_layer._get_group_channel_name(group)
        by_shard[loop_layer._get_shard(channel)].append((channel, layer.serialize(_message(group, text, *seq))))

    async def send(shard, publishes: list[tuple[str, bytes]]) -> int:
        sent = 0
        for start in range(0, len(publishes), PIPELINE_SIZE):
            async with shard._lock:
                shard._ensure_redis()
                pipeline = shard._redis.pipeline(transaction=False)
                for channel, data in publishes[start : start + PIPELINE_SIZE]:
                    pipeline.publish(channel, data)
                sent += len(await pipeline.execute())
        return sent

    results = await asyncio.gather(*(send(shard, publishes) for shard, publishes in by_shard.items()))
    return sum(results)


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
            what,
            quiet,
            exc_info=exc_info,
        )


_failures = _FailureReports()


async def layer_round_trip() -> bool:
    """Send to a private channel and read it back (the health check)."""
    layer = get_channel_layer()
    channel = await layer.new_channel(prefix="healthz.")
    token = uuid.uuid4().hex
    await layer.send(channel, {"type": "healthz", "token": token})
    received = await layer.receive(channel)
    return received.get("token") == token
