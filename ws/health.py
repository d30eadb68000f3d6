"""Is this worker's channel layer delivering? If not, say so to every socket.

With Redis down, a socket that stays open hears nothing and does not know
it. So each worker process checks the layer every LAYER_CHECK_SECONDS
with a real round trip (send to its own channel, receive it back: the path
every live frame takes). When two checks in a row fail, the worker closes
all its sockets with 1013 "try again later" and refuses new ones the same
way until a check passes again. Clients reconnect with backoff and resume
from the database (`?after=<seq>`, unread replay), so nothing is lost.

Also the registry of this worker's open sockets, which enforces
SOCKETS_PER_USER (per worker process: no shared state on the connect
path). One watch per event loop (a uvicorn worker has one); it checks
nothing for the in-memory layer, which cannot fail apart from the process.
"""

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections import Counter

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from ws import close_codes

logger = logging.getLogger(__name__)


class LayerWatch:
    def __init__(self):
        self.available = True
        self.sockets: weakref.WeakSet = weakref.WeakSet()
        self.per_user: Counter = Counter()  # (tenant schema, user id) → open sockets here
        self.task: asyncio.Task | None = None
        self.channel: str | None = None
        self.receiver: asyncio.Task | None = None
        self.nonces = itertools.count(1)
        self.waiting: dict[int, asyncio.Future] = {}

    def register(self, socket, key: tuple) -> bool:
        """Count `socket` for its user; False (not counted) if the user is at SOCKETS_PER_USER."""
        if self.per_user[key] >= settings.SOCKETS_PER_USER:
            return False
        self.per_user[key] += 1
        self.sockets.add(socket)
        return True

    def unregister(self, socket, key: tuple) -> None:
        self.sockets.discard(socket)
        self.per_user[key] -= 1
        if self.per_user[key] <= 0:
            del self.per_user[key]

    def start(self) -> None:
        if self.task is None and not isinstance(get_channel_layer(), InMemoryChannelLayer):
            self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        failures = 0
        while True:
            healthy = await self.check()
            # Two failures in a row: one slow check on a busy event loop
            # must not close thousands of sockets.
            failures = 0 if healthy else failures + 1
            if healthy and not self.available:
                logger.warning("channel layer is back; sockets may connect again")
                self.available = True
            elif failures >= 2 and self.available:
                logger.error("channel layer is not delivering; closing %d sockets with 1013", len(self.sockets))
                self.available = False
                await self.close_all(close_codes.TRY_AGAIN_LATER)
            await asyncio.sleep(settings.LAYER_CHECK_SECONDS)

    async def check(self) -> bool:
        """One round trip through the layer, within LAYER_CHECK_TIMEOUT seconds."""
        layer = get_channel_layer()
        nonce = next(self.nonces)
        answer = asyncio.get_running_loop().create_future()
        self.waiting[nonce] = answer
        try:
            async with asyncio.timeout(settings.LAYER_CHECK_TIMEOUT):
                if self.channel is None:
                    self.channel = await layer.new_channel("health.")
                    self.receiver = asyncio.create_task(self._receive(layer, self.channel))
                await layer.send(self.channel, {"type": "health.echo", "nonce": nonce})
                await answer
            return True
        except Exception:
            logger.debug("layer check failed", exc_info=True)
            return False
        finally:
            self.waiting.pop(nonce, None)

    async def _receive(self, layer, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the core layer raises while Redis is down
                await asyncio.sleep(settings.LAYER_CHECK_SECONDS)
                continue
            answer = self.waiting.get(message.get("nonce"))
            if answer is not None and not answer.done():
                answer.set_result(True)

    async def close_all(self, code: int) -> None:
        for socket in list(self.sockets):
            with contextlib.suppress(Exception):
                await socket.close(code=code)


_watches: dict[asyncio.AbstractEventLoop, LayerWatch] = {}


def watch() -> LayerWatch:
    loop = asyncio.get_running_loop()
    if loop not in _watches:
        _watches[loop] = LayerWatch()
    return _watches[loop]
