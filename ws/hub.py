"""Per-process fan-out of store streams.

Channels gives every socket its own channel: a store event published to a
group with 1,000 dashboard sockets is queued 1,000 times, decoded 1,000
times and dispatched through 1,000 consumer tasks. The hub subscribes once
per (worker process, group) and hands the already-serialized frame straight
to each local socket's `deliver`, which applies the socket's ordering rules
(dedup and gap repair by `seq`). Measured in docs/performance.md.

One hub per event loop (a uvicorn worker has one).
"""

import asyncio
import contextlib
import logging

from channels.layers import get_channel_layer

from platform_core.availability import is_client_gone
from ws.loops import per_event_loop

logger = logging.getLogger(__name__)


class Hub:
    def __init__(self):
        self.members: dict[str, set] = {}
        # The last frame without a seq (presence) seen per group: what a
        # socket joining an unchanged store is sent, without a query.
        self.last_presence: dict[str, str] = {}
        self.channel: str | None = None
        self.pump: asyncio.Task | None = None
        self.lock = asyncio.Lock()

    async def join(self, group: str, socket) -> None:
        async with self.lock:  # one group_add per group, however many sockets join at once
            layer = get_channel_layer()
            if self.channel is None:
                self.channel = await layer.new_channel("hub.")
                self.pump = asyncio.create_task(self._pump(layer, self.channel))
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
            group = message.get("group")
            if "seq" not in message and group in self.members:
                self.last_presence[group] = message["text"]
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
