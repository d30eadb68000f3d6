"""`/ws/stores/<store_id>/orders/[?after=<seq>]`: a store's live dashboard.

The socket's position in the stream is `last_seq`: every stream frame it
sent has seq ≤ last_seq, and all of them were sent, in order. Live frames
at or below it are duplicates and dropped; a live frame beyond
last_seq + 1 means frames were lost on the way (channels-redis drops
silently when a channel is full) and the hole is filled from the database
before it is sent. So a socket never shows a hole, whatever the channel
layer does.

Channels hands a consumer its messages one at a time, so live frames that
arrive during the replay on connect wait in the channel's queue and are
deduplicated against last_seq afterwards (join, replay, then flush). The
heartbeat runs as its own task, so every stream send holds `stream_lock`.
"""

import asyncio
import contextlib
import logging

from django.conf import settings

from orders import selectors
from platform_core.errors import ApplicationError
from stores import services as store_services
from stores.selectors import Access, store_access
from ws import close_codes, events, groups
from ws.consumers import JsonSocket, parse_position
from ws.db import in_tenant

logger = logging.getLogger(__name__)


class StoreOrdersSocket(JsonSocket):
    handlers = {**JsonSocket.handlers, "resume": "on_resume"}

    async def authorize(self):
        self.store_id = int(self.scope["url_route"]["kwargs"]["store_id"])
        if self.store_id >= 2**63:  # beyond any bigint id
            return close_codes.NOT_FOUND
        access = await in_tenant(self.tenant, store_access, user=self.user, store_id=self.store_id)
        return {Access.ALLOWED: None, Access.FORBIDDEN: close_codes.FORBIDDEN}.get(access, close_codes.NOT_FOUND)

    async def opened(self):
        self.stream_lock = asyncio.Lock()
        self.last_seq = 0
        # Join first: anything committed from now on reaches this socket
        # live, and everything before it comes from the database.
        await self.join(groups.store_orders(self.tenant, self.store_id))
        presence = await in_tenant(
            self.tenant, store_services.presence_enter,
            store_id=self.store_id, user=self.user, channel_name=self.channel_name,
        )
        if presence is not None:
            await self.send_frame(presence)
        after = await self.query_position("after")
        async with self.stream_lock:
            if after is None:
                self.last_seq = await in_tenant(self.tenant, selectors.latest_seq, store_id=self.store_id)
                await self.send_frame(events.StreamLive(latest_seq=self.last_seq))
            else:
                await self._replay(after)
        self.heartbeat = asyncio.create_task(self._heartbeat())

    async def disconnect(self, code):
        heartbeat = getattr(self, "heartbeat", None)
        if heartbeat:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if hasattr(self, "stream_lock"):
            await in_tenant(
                self.tenant, store_services.presence_leave, store_id=self.store_id, channel_name=self.channel_name
            )
        await super().disconnect(code)

    # --- client → server ------------------------------------------------------
    async def on_resume(self, message: dict) -> None:
        """The client noticed a hole: send everything after `after` again."""
        if set(message) - {"type", "after"}:
            raise ApplicationError("invalid", "resume takes only `after`")
        after = parse_position(message.get("after"), "after")
        async with self.stream_lock:
            await self._replay(after)

    # --- channel layer → socket -----------------------------------------------
    async def event_forward(self, message: dict) -> None:
        seq = message.get("seq")
        if seq is None:  # presence: not part of the stream
            await self.send(text_data=message["text"])
            return
        async with self.stream_lock:
            if seq <= self.last_seq:
                return
            if seq > self.last_seq + 1:
                await self._send_from_db(upto=seq)
            else:
                await self.send(text_data=message["text"])
                self.last_seq = seq

    # --- internals ----------------------------------------------------------------
    async def _replay(self, after: int) -> None:
        """Send every event with seq > after from the database, then `stream.live`."""
        latest = await in_tenant(self.tenant, selectors.latest_seq, store_id=self.store_id)
        if after > latest:
            # Not a position of this stream: a client from another database,
            # or one that made up a number. Say so rather than guess.
            self.last_seq = max(self.last_seq, latest)
            await self.send_frame(events.Reset(latest_seq=latest, detail=f"after={after} is beyond the latest seq {latest}"))
            return
        self.last_seq = after
        await self._send_from_db(upto=None)
        await self.send_frame(events.StreamLive(latest_seq=self.last_seq))

    async def _send_from_db(self, *, upto: int | None) -> None:
        """Send stored events last_seq < seq ≤ upto (or to the end), advancing last_seq."""
        while True:
            batch = await in_tenant(
                self.tenant, selectors.stream_after,
                store_id=self.store_id, after=self.last_seq, upto=upto, limit=settings.STREAM_REPLAY_BATCH,
            )
            for seq, frame in batch:
                await self.send(text_data=frame)
                self.last_seq = seq
            if len(batch) < settings.STREAM_REPLAY_BATCH:
                return

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(settings.STREAM_HEARTBEAT_SECONDS)
            try:
                latest = await in_tenant(self.tenant, self._refresh)
                async with self.stream_lock:
                    if latest > self.last_seq:
                        # A live frame never came: repair from the database.
                        await self._send_from_db(upto=latest)
                    await self.send_frame(events.Heartbeat(latest_seq=self.last_seq))
            except Exception:
                # The database may be restarting; the next beat tries again.
                logger.warning("heartbeat of store %s failed", self.store_id, exc_info=True)

    def _refresh(self) -> int:
        store_services.presence_refresh(store_id=self.store_id, user=self.user, channel_name=self.channel_name)
        return selectors.latest_seq(store_id=self.store_id)
