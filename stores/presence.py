"""Who is on which store's dashboard: counted per worker in memory, shared
through PostgreSQL in batches.

Each worker process (each event loop) counts its own dashboard sockets per
(tenant, store, user). Only a change of that set — a user's first socket on
a store here, or their last one closing — is written, and not at once: the
changes of the next PRESENCE_FLUSH_SECONDS are applied together in one
transaction per tenant (stores/services.py `presence_write`: one upsert,
one delete, one read of the changed stores' lists). Every
STREAM_HEARTBEAT_SECONDS the worker refreshes all its rows in one statement
(`presence_refresh`) and drops the rows of workers that stopped refreshing
theirs. So a reconnect storm of 5,000 sockets of 10 users costs a handful
of statements, not 5,000 writes on the way in and 5,000 on the way out.

A list is broadcast only when it differs from the one this worker last saw
for the store (ws/hub.py keeps it). A socket whose user is already listed
here gets that list at once; one whose user is new here (or that finds no
list) is given the list after the next batch, by the broadcast if it
changed, else directly.

Why PostgreSQL rather than Redis keys with a TTL: the rows are per
(worker, store, user), so the table stays as small as the set of present
users; batches make the writes rare; the rows go with the store or user
they name (foreign keys); one implementation serves `make run` without
Redis too. docs/architecture.md ("Presence") has the argument.

Runs on the event loop only (no locking beyond the batch lock).
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket as sockets
from collections import defaultdict

from django.conf import settings

from stores import services
from ws.db import in_tenant
from ws.hub import store_presence_seen, store_presence_sent
from ws.loops import per_event_loop

logger = logging.getLogger(__name__)

# How long `presence_leave` waits for its batch to be written: a revoked
# user's presence is gone before their socket's close goes out, but a
# database that does not answer must not hold the socket's end for long.
LEAVE_WAIT_SECONDS = 2.0

Key = tuple[int, int, int]  # (tenant pk, store id, user id)


class PresenceRegistry:
    """One worker's dashboard sockets, and the batch of changes not yet written."""

    def __init__(self):
        # Names this process's rows; a new one per process (and per event loop).
        self.worker = f"{sockets.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"
        self.sockets: dict[Key, set] = {}
        self.tenants: dict[int, object] = {}
        self.written: set[Key] = set()  # keys whose row of this worker is in the database
        self.dirty: set[Key] = set()  # keys whose row may have to be written or removed
        # Sockets that were not sent a list at connect, by (tenant pk, store id).
        self.waiting: dict[tuple[int, int], set] = defaultdict(set)
        self.lock = asyncio.Lock()  # one batch or refresh at a time: writes of a key stay in order
        self.batch: asyncio.Future | None = None
        self.beat: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    # --- sockets ----------------------------------------------------------------------
    def enter(self, *, tenant, store_id: int, user_id: int, socket) -> str | None:
        """Count `socket` (already in the store's hub group). Returns the list
        to send it now, or None: then the list reaches it after the next batch
        (`socket.deliver`, or the store's broadcast)."""
        key = (tenant.pk, store_id, user_id)
        self.tenants[tenant.pk] = tenant
        members = self.sockets.setdefault(key, set())
        members.add(socket)
        seen = store_presence_seen(tenant, store_id)
        if len(members) == 1:
            self.dirty.add(key)
        elif seen is not None:
            return seen  # the user is listed here already: nothing changes
        self.waiting[(tenant.pk, store_id)].add(socket)
        self._next_batch()
        self._start_beat()
        return None

    async def leave(self, *, tenant, store_id: int, user_id: int, socket) -> None:
        """Uncount `socket`; when it was the user's last one on the store here,
        wait (up to LEAVE_WAIT_SECONDS) until the batch that removes the
        user's row is written."""
        key = (tenant.pk, store_id, user_id)
        waiting = self.waiting.get((tenant.pk, store_id))
        if waiting is not None:
            waiting.discard(socket)
        members = self.sockets.get(key)
        if members is None or socket not in members:
            return
        members.discard(socket)
        if members:
            return
        del self.sockets[key]
        self.dirty.add(key)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._next_batch()), LEAVE_WAIT_SECONDS)

    # --- batches ------------------------------------------------------------------------
    def _next_batch(self) -> asyncio.Future:
        """The batch that will carry the changes made so far (scheduled once)."""
        if self.batch is None:
            self.batch = asyncio.get_running_loop().create_future()
            self._spawn(self._write_after(settings.PRESENCE_FLUSH_SECONDS, self.batch))
        return self.batch

    async def _write_after(self, delay: float, done: asyncio.Future) -> None:
        await asyncio.sleep(delay)
        try:
            async with self.lock:
                if self.batch is done:
                    self.batch = None  # changes from now on go to the next batch
                await self._write()
        except Exception:
            logger.warning("presence batch failed; the next batch or heartbeat writes it", exc_info=True)
        finally:
            if not done.done():
                done.set_result(None)

    async def _write(self) -> None:
        dirty, self.dirty = self.dirty, set()
        waiting, self.waiting = self.waiting, defaultdict(set)
        changes: dict[int, tuple[list, list, set]] = defaultdict(lambda: ([], [], set()))
        for key in dirty:
            tenant_pk, store_id, user_id = key
            present = key in self.sockets
            if present != (key in self.written):
                entered, left, _ = changes[tenant_pk]
                (entered if present else left).append((store_id, user_id))
            changes[tenant_pk][2].add(store_id)
        for (tenant_pk, store_id), waiters in waiting.items():
            if waiters:  # (those that left meanwhile are gone from it)
                changes[tenant_pk][2].add(store_id)
        failed = None
        for tenant_pk, (entered, left, stores) in changes.items():
            tenant = self.tenants[tenant_pk]
            try:
                told = await in_tenant(
                    tenant, services.presence_write, worker=self.worker, entered=entered, left=left, stores=stores
                )
            except Exception as error:
                # Written by the next batch or heartbeat (the keys' state is
                # recomputed then); the other tenants' changes go on.
                failed = error
                self.dirty.update(key for key in dirty if key[0] == tenant_pk)
                for place, waiters in waiting.items():
                    if place[0] == tenant_pk:
                        self.waiting[place].update(waiters)
                continue
            self.written.update((tenant_pk, s, u) for s, u in entered)
            self.written.difference_update((tenant_pk, s, u) for s, u in left)
            self._told(tenant, told, waiting)
        if failed is not None:
            raise failed

    def _told(self, tenant, told: dict[int, tuple[str, bool]], waiting: dict) -> None:
        """After a write: remember each store's list; sockets waiting for a
        list that was not broadcast (unchanged) get it directly."""
        for store_id, (text, broadcast) in told.items():
            store_presence_sent(tenant, store_id, text)
            if broadcast:
                continue  # every socket of the store hears it
            for socket in waiting.get((tenant.pk, store_id), ()):
                socket.deliver({"text": text})

    # --- the worker's heartbeat ---------------------------------------------------------
    def _start_beat(self) -> None:
        if self.beat is None or self.beat.done():
            self.beat = asyncio.get_running_loop().create_task(self._beat_forever())

    async def _beat_forever(self) -> None:
        while self.sockets or self.written:
            await asyncio.sleep(settings.STREAM_HEARTBEAT_SECONDS)
            async with self.lock:
                # Anything a failed batch left behind, then the refresh, each
                # on its own: a failure of one must not let our rows expire.
                for step in (self._write, self._refresh):
                    try:
                        await step()
                    except Exception:
                        # The database may be restarting; the next beat tries again.
                        logger.warning("presence %s failed", step.__name__.strip("_"), exc_info=True)

    async def _refresh(self) -> None:
        by_tenant: dict[int, list] = defaultdict(list)
        for tenant_pk, store_id, user_id in self.sockets:
            by_tenant[tenant_pk].append((store_id, user_id))
        for tenant_pk, present in by_tenant.items():
            tenant = self.tenants[tenant_pk]
            known = {store_id: store_presence_seen(tenant, store_id) for store_id, _ in present}
            try:
                told = await in_tenant(
                    tenant, services.presence_refresh, worker=self.worker, present=present, known=known
                )
            except Exception:
                logger.warning("presence refresh of %s failed", tenant.schema_name, exc_info=True)
                continue
            self.written.update((tenant_pk, s, u) for s, u in present)
            self._told(tenant, told, {})

    def _spawn(self, coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


registry = per_event_loop(PresenceRegistry)


def presence_enter(*, tenant, store_id: int, user, socket) -> str | None:
    """`socket` (in the store's hub group already) is on the store's
    dashboard. Returns the presence frame to send it now, or None if the
    list reaches it after the next batch. No database trip: in memory."""
    return registry().enter(tenant=tenant, store_id=store_id, user_id=user.pk, socket=socket)


async def presence_leave(*, tenant, store_id: int, user, socket) -> None:
    """`socket` left the store's dashboard (closed, revoked, too slow). If it
    was the user's last socket on the store in this worker, returns once the
    user's row is gone (or after LEAVE_WAIT_SECONDS)."""
    await registry().leave(tenant=tenant, store_id=store_id, user_id=user.pk, socket=socket)
