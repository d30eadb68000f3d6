"""Per-process fan-out of store streams.

Channels gives every socket its own channel: a store event published to a
group with 1,000 dashboard sockets is queued 1,000 times, decoded 1,000
times and dispatched through 1,000 consumer tasks. The hub subscribes once
per (worker process, group) and hands the already-serialized frame straight
to each local socket's `deliver`, which applies the socket's ordering rules
(dedup and gap repair by `seq`). Measured in docs/performance.md.

Frames of one store are published by whichever thread committed them, so
two commits a millisecond apart can reach Redis, and the hub, in the wrong
order. Handed on as they come, every socket of the store would see a hole
and read it from the database: a thousand queries for a swap. The hub puts
them back in order instead: a frame beyond the next expected `seq` waits up
to STREAM_REORDER_SECONDS for the ones before it; when they come, all go out
in order; when they do not (really lost), it goes out anyway and the sockets
repair the hole from the database, as before.

One hub per event loop (a uvicorn worker has one).
"""

import asyncio
import contextlib
import logging

from channels.layers import get_channel_layer
from django.conf import settings

from platform_core.availability import is_client_gone
from ws import groups
from ws.loops import per_event_loop

logger = logging.getLogger(__name__)


class Hub:
    def __init__(self):
        self.members: dict[str, set] = {}
        # The last frame without a seq (presence) seen per group: what a
        # socket joining an unchanged store is sent, without a query.
        self.last_presence: dict[str, str] = {}
        # Groups whose `seq` is gap-free (store streams): only their frames
        # are put back in order. A bell's `seq` is a notification id, which
        # skips every id of the tenant's other users: held for the ones
        # "before" it, each would wait STREAM_REORDER_SECONDS.
        self.in_order: set[str] = set()
        # Per group: the seq expected next, and frames that came before it.
        self.next_seq: dict[str, int] = {}
        self.held: dict[str, dict[int, dict]] = {}
        self.release_timers: dict[str, asyncio.TimerHandle] = {}
        self.channel: str | None = None
        self.pump: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def join(self, group: str, socket, *, in_order: bool = False) -> None:
        """`socket.deliver` gets every frame of `group` from now on; with
        `in_order`, put back in `seq` order (the group's seq is gap-free)."""
        async with self.lock:  # one group_add per group, however many sockets join at once
            layer = get_channel_layer()
            if self.channel is None:
                self.channel = await layer.new_channel("hub.")
                self.pump = asyncio.create_task(self._pump(layer, self.channel))
            if in_order:
                self.in_order.add(group)
            if group not in self.members:
                self.members[group] = set()
                await layer.group_add(group, self.channel)
            self.members[group].add(socket)

    async def leave(self, group: str, socket) -> None:
        async with self.lock:
            members = self.members.get(group)
            if members is None:
                return
            members.discard(socket)
            if not members:
                del self.members[group]
                self.last_presence.pop(group, None)
                self.in_order.discard(group)
                self._forget_order(group)
                with contextlib.suppress(Exception):
                    await get_channel_layer().group_discard(group, self.channel)

    async def _pump(self, layer, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("hub receive failed; sockets repair from the database by seq")
                await asyncio.sleep(1)
                continue
            self.receive(message)

    def receive(self, message: dict) -> None:
        """A frame from the layer: hand it on in seq order (see above)."""
        group, seq = message.get("group"), message.get("seq")
        if group not in self.members:
            return
        if group not in self.in_order:  # a bell's frames, access changes
            self._hand_on(group, message)
            return
        if seq is None:  # presence: not part of the stream
            self.last_presence[group] = message["text"]
            self._hand_on(group, message)
            return
        expected = self.next_seq.get(group)
        if expected is None or seq <= expected:
            # The first this worker hears, the next one, or an old one (the
            # sockets drop duplicates): on its way, with any it unblocks.
            self._hand_on(group, message)
            self.next_seq[group] = max(expected or 0, seq + 1)
            self._release_ready(group)
            return
        held = self.held.setdefault(group, {})
        held[seq] = message
        if len(held) > settings.WS_OUTBOX_FRAMES:
            self._release_all(group)  # far behind: let the sockets repair
        elif group not in self.release_timers:
            self.release_timers[group] = asyncio.get_running_loop().call_later(
                settings.STREAM_REORDER_SECONDS, self._release_all, group
            )

    def _release_ready(self, group: str) -> None:
        held = self.held.get(group)
        while held and self.next_seq[group] in held:
            seq = self.next_seq[group]
            self._hand_on(group, held.pop(seq))
            self.next_seq[group] = seq + 1
        if not held:
            self._forget_held(group)

    def _release_all(self, group: str) -> None:
        """The frames before them did not come in time: hand on what is
        held, in order; sockets read the holes from the database."""
        held = self.held.pop(group, {})
        timer = self.release_timers.pop(group, None)
        if timer is not None:
            timer.cancel()
        for seq in sorted(held):
            self._hand_on(group, held[seq])
            self.next_seq[group] = max(self.next_seq.get(group, 0), seq + 1)

    def _forget_held(self, group: str) -> None:
        self.held.pop(group, None)
        timer = self.release_timers.pop(group, None)
        if timer is not None:
            timer.cancel()

    def _forget_order(self, group: str) -> None:
        self._forget_held(group)
        self.next_seq.pop(group, None)

    def _hand_on(self, group: str, message: dict) -> None:
        for socket in list(self.members.get(group, ())):
            # `deliver` never waits (it queues in the socket's outbox), so
            # no socket's client can hold up another's frames.
            try:
                socket.deliver(message)
            except Exception as error:
                # One broken socket must not stop the others' deliveries;
                # one whose client just left is not broken.
                if not is_client_gone(error):
                    logger.exception("delivery to one socket failed")


hub = per_event_loop(Hub)


def store_presence_seen(tenant, store_id: int) -> str | None:
    """The store's last presence frame this worker heard or sent (None if
    none, or if no socket of this worker is on the store)."""
    return hub().last_presence.get(groups.store_orders(tenant, store_id))


def store_presence_sent(tenant, store_id: int, text: str) -> None:
    """This worker just published (or found unchanged) `text` as the store's
    list: remember it now, before its copy comes back through the layer, so
    the next batch does not publish it again. Only while a socket of this
    worker is on the store (the hub forgets a store's list with its last
    socket)."""
    group = groups.store_orders(tenant, store_id)
    current = hub()
    if group in current.members:
        current.last_presence[group] = text
