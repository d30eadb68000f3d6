"""Is this worker's channel layer reachable? If not, say so to every socket.

With Redis down, a socket that stays open hears nothing and does not know
it. So each worker process sends a message through its layer every
LAYER_CHECK_SECONDS. When two sends in a row fail — Redis refuses or drops
the connection, or answers nothing for LAYER_CHECK_TIMEOUT seconds (a hung
server) — the worker closes all its sockets with 1013 "try again later"
and refuses new ones the same way until a send succeeds again. Clients
reconnect with backoff and resume from the database (`?after=<seq>`,
unread replay), so nothing is lost.

Slowness is not an outage: under a connect storm the pub/sub layer's one
connection per worker is busy with thousands of SUBSCRIBEs, and a round
trip can take seconds (measured by `make bench`: a 2 s round-trip deadline
closed thousands of healthy sockets). So the check fails on errors, and
only a hang far longer than any load causes (LAYER_CHECK_TIMEOUT, 30 s)
counts as one.

Also the registry of this worker's open sockets, by user: it enforces
SOCKETS_PER_USER (per worker process: no shared state on the connect
path) and finds a user's sockets when their access changes (ws/access.py).
One watch per event loop (a uvicorn worker has one); it checks nothing for
the in-memory layer, which cannot fail apart from the process.
"""

import asyncio
import contextlib
import logging
import time
import weakref

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ws import close_codes
from ws.loops import per_event_loop
from ws.occupancy import forget_stale_subscriptions
from ws.outbox import writing

logger = logging.getLogger(__name__)


class LayerWatch:
    def __init__(self):
        self.available = True
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.per_user: dict[tuple, set] = {}  # (tenant schema, user id) → that user's open sockets here
        self.task: asyncio.Task | None = None
        self.channel: str | None = None
        self.drain: asyncio.Task | None = None
        self.writes: asyncio.Task | None = None

    def register(self, socket, key: tuple) -> bool:
        """Count `socket` for its user; False (not counted) if the user is at SOCKETS_PER_USER."""
        mine = self.per_user.setdefault(key, set())
        if len(mine) >= settings.SOCKETS_PER_USER:
            return False
        mine.add(socket)
        self.sockets.add(socket)
        return True

    def unregister(self, socket, key: tuple) -> None:
        self.sockets.discard(socket)
        mine = self.per_user.get(key, set())
        mine.discard(socket)
        if not mine:
            self.per_user.pop(key, None)

    def sockets_of(self, key: tuple) -> list:
        """The open sockets of (tenant schema, user id) on this worker."""
        return list(self.per_user.get(key, ()))

    def start(self) -> None:
        if self.task is None and not isinstance(get_channel_layer(), InMemoryChannelLayer):
            self.task = asyncio.create_task(self._run())
        if self.writes is None:
            self.writes = asyncio.create_task(self._watch_writes())

    async def _watch_writes(self) -> None:
        """Close (4408) any socket whose pending write has waited on its
        client longer than WS_SEND_TIMEOUT_SECONDS (ws/outbox.py). Only the
        outboxes that are writing are looked at, not every socket."""
        while True:
            await asyncio.sleep(min(1.0, settings.WS_SEND_TIMEOUT_SECONDS / 2))
            now = time.monotonic()
            for outbox in list(writing()):
                if outbox.stuck_for(now) > settings.WS_SEND_TIMEOUT_SECONDS:
                    outbox.overflow()

    async def _run(self) -> None:
        failures = 0
        while True:
            healthy = await self.check()
            # Two failures in a row: one dropped connection that the client
            # library re-opens at once must not close thousands of sockets.
            failures = 0 if healthy else failures + 1
            if healthy and not self.available:
                logger.warning("channel layer is back; sockets may connect again")
                self.available = True
            if healthy:
                await self.forget_stale()
            elif failures >= 2 and self.available:
                logger.error("channel layer is unreachable; closing %d sockets with 1013", len(self.sockets))
                self.available = False
                await self.close_all(close_codes.TRY_AGAIN_LATER)
            await asyncio.sleep(settings.LAYER_CHECK_SECONDS)

    async def forget_stale(self) -> None:
        """Unsubscribe from groups whose sockets closed while Redis was down
        (ws/occupancy.py); cheap when there are none."""
        try:
            forgotten = await forget_stale_subscriptions()
        except Exception as error:
            logger.warning("could not unsubscribe stale groups yet: %r", error)
            return
        if forgotten:
            logger.info("unsubscribed %d groups left behind by sockets closed during an outage", forgotten)

    async def check(self) -> bool:
        """Send one message through the layer: False if Redis refuses it or hangs."""
        layer = get_channel_layer()
        try:
            async with asyncio.timeout(settings.LAYER_CHECK_TIMEOUT):
                if self.channel is None:
                    self.channel = await layer.new_channel("health.")
                    self.drain = asyncio.create_task(self._drain(layer, self.channel))
                await layer.send(self.channel, {"type": "health.check"})
            return True
        except Exception as error:
            logger.warning("channel layer check failed: %r", error)
            return False

    async def _drain(self, layer, channel: str) -> None:
        """Read the checks back, so they never pile up in the channel."""
        while True:
            try:
                await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the core layer raises while Redis is down
                await asyncio.sleep(settings.LAYER_CHECK_SECONDS)

    async def close_all(self, code: int) -> None:
        for socket in list(self.sockets):
            with contextlib.suppress(Exception):
                await socket.close(code=code)


watch = per_event_loop(LayerWatch)
