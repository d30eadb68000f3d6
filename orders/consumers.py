"""`/ws/stores/<store_id>/orders/[?after=<seq>][&presence=off]`: a store's
live dashboard (or, with `presence=off`, an order page's view of its stream).

The socket connects, authorizes (staff of the store) and forwards; the
stream protocol — the socket's position, duplicates, holes, the seam
between replay and live — is `orders.stream.StreamCursor`. Live frames come
from the worker's hub (ws/hub.py), which receives each store frame once per
process. Frames that arrive while a replay, a resume, a repair or an access
check holds `stream_lock` are parked in the cursor and offered after it.
Every stream send holds `stream_lock`.
"""

import asyncio
import logging
from collections import defaultdict
from urllib.parse import parse_qs

from channels.auth import UserLazyObject
from django.conf import settings
from django.contrib.auth.models import AnonymousUser

from orders import selectors
from orders.stream import Start, StreamCursor, Verdict
from platform_core.access import (
    DB_SESSIONS,
    credentials_ended,
    known_session_user,
    read_session,
    session_of,
    session_user,
)
from platform_core.availability import is_outage
from platform_core.errors import ApplicationError
from platform_core.parsing import parse_client_int
from platform_core.plain_sql import Reads, run
from stores.presence import presence_enter, presence_leave
from stores.selectors import Access, store_access_and_seq, store_access_many
from ws import close_codes, events
from ws.consumers import JsonSocket
from ws.db import in_tenant
from ws.loops import cancel_and_wait, per_event_loop
from ws.reads import READERS_PER_STATEMENT, run_reads

logger = logging.getLogger(__name__)


class StoreOrdersSocket(JsonSocket):
    handlers = {**JsonSocket.handlers, "resume": "on_resume"}

    async def admit(self):
        try:
            self.store_id = parse_client_int(str(self.scope["url_route"]["kwargs"]["store_id"]), "store_id")
        except ApplicationError:  # beyond any bigint id
            return close_codes.NOT_FOUND
        self.stream_lock = asyncio.Lock()
        self.cursor = StreamCursor()
        # Held from before joining until the replay is done (`opened`): live
        # frames the hub hands over meanwhile are parked, then offered in
        # order (join, replay, then flush). A refused socket never releases
        # it: nothing of the stream goes out before access is decided, and
        # the parked frames go with the socket.
        await self.stream_lock.acquire()
        # Join first: anything committed from now on reaches this socket
        # live, and everything before it comes from the database.
        await self.join_store_stream(self.store_id)
        self.after, self.after_error = self.position_in_query("after")
        # An order's page (`?presence=off`) follows the stream for one order:
        # its staff reader is not on the board, so is not listed as present
        # there, nor counted as watching it (orders/unattended.py).
        self.present = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("presence") != ["off"]
        # The connect's reads: the session, the user, access to the store,
        # the stream position and the first replay batch, in one statement
        # on a reconnect, two on a first connect (`_session_opening`;
        # presence is in memory). With the database session engine
        # they run on the event loop, with the other dashboards opening at
        # the same time (ws/reads.py: a trip to a thread, and the GIL it
        # fights for, cost three times the reads themselves); with another
        # engine, whose store is synchronous, on the DB thread.
        if settings.SESSION_ENGINE == DB_SESSIONS:
            refusal, self.open_state = await run_reads(self._opening(self.tenant.schema_name))
        else:
            refusal, self.open_state = await in_tenant(self.tenant, lambda: run(self._opening()))
        return refusal

    def _opening(self, schema: str | None = None) -> Reads:
        """(a close code, None) to refuse, else (None, (the store's latest
        seq, the first replay batch)), with `admit_now`'s rules. Sets
        `self.user`."""
        user = self.scope["user"]
        if isinstance(user, UserLazyObject):  # a session cookie
            found, opening = yield from self._session_opening(self.credential.session_key, schema)
            # Django's get_user decision, kept in the scope as admit_now does.
            user._wrapped = session_user(found[0], opening[1]) if found else AnonymousUser()
            self.user = user._wrapped
        else:  # a ticket's user
            opening = (yield from self._dashboard(user.pk, None, schema)) if user.is_authenticated else None
            self.user = user if opening and opening[1] is not None else AnonymousUser()  # deactivated since
        if not self.user.is_authenticated:
            return close_codes.NOT_SIGNED_IN, None
        _data, _row, access, latest, page = opening
        refusal = self._refusal_for(access)
        if refusal is not None:
            return refusal, None
        return None, (latest, page)

    def _session_opening(self, session_key: str, schema: str | None) -> Reads:
        """(the session and the id of its user, or None; what the dashboard
        opens with for that user). One statement when this worker knows
        whom the session names (a reconnect): the session's row comes with
        the rest, and decides; else two, the session first."""
        guess = known_session_user(session_key)
        if guess is not None:
            opening = yield from self._dashboard(guess, session_key, schema)
            if opening[0] is None:
                return None, None  # the session ended
            found = session_of(session_key, opening[0])
            if found is not None and found[1] == guess:
                return found, opening
        found = yield from read_session(session_key, schema)
        if found is None:
            return None, None
        return found, (yield from self._dashboard(found[1], None, schema))

    def _dashboard(self, user_id: int, session_key: str | None, schema: str | None) -> Reads:
        return selectors.dashboard_opening(
            user_id=user_id,
            store_id=self.store_id,
            after=self.after,
            limit=settings.STREAM_REPLAY_BATCH,
            # Read with up to READERS_PER_STATEMENT other openings: together
            # at most a page. What does not fit follows from the DB thread
            # in pages of STREAM_REPLAY_PAGE_BYTES (`_send_from_db`).
            max_bytes=max(1, settings.STREAM_REPLAY_PAGE_BYTES // READERS_PER_STATEMENT),
            session_key=session_key,
            schema=schema,
        )

    def authorize_now(self):
        access, _latest = store_access_and_seq(user=self.user, store_id=self.store_id)
        return self._refusal_for(access)

    @staticmethod
    def _refusal_for(access: Access) -> int | None:
        return {Access.ALLOWED: None, Access.FORBIDDEN: close_codes.FORBIDDEN}.get(access, close_codes.NOT_FOUND)

    suspended = 0  # access checks under way (ws/access.py): park live frames meanwhile

    def suspend(self) -> None:
        self.suspended += 1

    async def recheck_access(self, **ended) -> None:
        # Suspended, then under the stream lock: no frame of this store goes
        # out between the change and the check (they are parked meanwhile).
        lock = getattr(self, "stream_lock", None)
        try:
            if lock is None:
                return await super().recheck_access(**ended)
            async with lock:
                await super().recheck_access(**ended)
        finally:
            self.suspended = max(0, self.suspended - 1)
        self._unpark()

    async def opened(self):
        latest, (batch, more) = self.open_state
        after, self.open_state = self.after, None
        try:
            if self.after_error is not None:
                await self.send_error("invalid_message", self.after_error)
            # Presence is counted in memory (no database trip); the list comes
            # now, or after the worker's next presence batch.
            if self.present:
                presence = presence_enter(tenant=self.tenant, store_id=self.store_id, user=self.user, socket=self)
                if presence is not None:
                    await self.send(text_data=presence)
            start = self.cursor.start(after=after, latest=latest)
            if start is Start.RESET:
                await self._reset(after, latest)
            else:
                if start is Start.REPLAY:
                    await self._send_stored(batch)
                    if more:
                        await self._send_from_db(upto=None)
                await self.send_frame(events.StreamLive(latest_seq=self.cursor.last_seq))
        finally:
            self.stream_lock.release()
        self._unpark()
        dashboard_beat().add(self)

    async def disconnect(self, code):
        # The socket's own tasks stop (one of them may be the one revoking it).
        dashboard_beat().discard(self)
        for task in (self.beating, self.replaying, self.drainer):
            if task is not None and task is not asyncio.current_task():
                await cancel_and_wait(task)
        await self.leave_store_stream()
        user = getattr(self, "user", None)  # unknown if the connect's read failed
        if hasattr(self, "stream_lock") and self.present and user is not None:
            await presence_leave(tenant=self.tenant, store_id=self.store_id, user=user, socket=self)
        await super().disconnect(code)

    # --- client → server ------------------------------------------------------
    async def on_resume(self, message: dict) -> None:
        """The client noticed a hole: send everything after `after` again."""
        if set(message) - {"type", "after"}:
            raise ApplicationError("invalid", "resume takes only `after`")
        after = parse_client_int(message.get("after"), "after")
        # One replay in flight per socket; it runs beside the socket's message
        # loop (pings are still answered) and is charged to the socket's
        # message budget by its size.
        if self.replaying is not None and not self.replaying.done():
            await self.send_error("rate_limited", "a replay is already in progress; wait for stream.live")
            return
        self.replaying = asyncio.create_task(self._resume(after))

    replaying: asyncio.Task | None = None
    drainer: asyncio.Task | None = None
    beating: asyncio.Task | None = None

    async def _resume(self, after: int) -> None:
        try:
            async with self.stream_lock:
                # A replay sends the store's history: not to someone who lost it.
                refusal, latest = await in_tenant(self.tenant, self._resume_state)
                if refusal is not None:
                    await self.revoke(refusal)
                    return
                pages = -(-max(0, latest - after) // settings.STREAM_REPLAY_BATCH)  # ceil
                if not self.take_tokens(pages):
                    await self.send_error(
                        "rate_limited",
                        f"replaying {latest - after} events costs {pages} messages of your budget; "
                        "resume from a later seq, or reload the orders over HTTP",
                    )
                    return
                await self._replay(after, latest)
            self._unpark()
        except Exception as error:
            if not is_outage(error):
                raise
            await self.send_error("unavailable", "the service is briefly unavailable; send it again shortly")

    def _resume_state(self) -> tuple[int | None, int]:
        """(a close code if access ended, the latest seq). On the DB thread, in the tenant."""
        return self.refusal_now(), selectors.latest_seq(store_id=self.store_id)

    # --- hub → socket -------------------------------------------------------------
    def deliver(self, message: dict) -> None:
        """A frame of this store's group, from the worker's hub.

        Never waits (the hub serves every socket of the worker): the frame is
        queued in the outbox, or parked while a replay, a repair or an access
        check holds the stream lock — or while a hole must first be read
        from the database — and applied by this socket's own task.
        """
        if self.closing:
            return
        if self.stream_lock.locked() or self.suspended or self.cursor.parked:
            self._park(message)
            return
        seq = message.get("seq")
        if seq is None:  # presence: not part of the stream
            self.push(message["text"])
            return
        verdict = self.cursor.offer(seq)
        if verdict is Verdict.SEND:
            self.push(message["text"])
            self.cursor.sent(seq)
        elif verdict is Verdict.FILL:
            self._park(message)

    def _park(self, message: dict) -> None:
        self.cursor.park(message)
        if len(self.cursor.parked) > settings.WS_OUTBOX_FRAMES:
            self.too_slow()  # a replay this far behind the live stream: start again by seq
            return
        self._unpark()

    async def _apply(self, message: dict) -> None:
        seq = message.get("seq")
        if seq is None:  # presence: not part of the stream
            await self.send(text_data=message["text"])
            return
        verdict = self.cursor.offer(seq)
        if verdict is Verdict.FILL:
            await self._send_from_db(upto=seq)  # the hole, and this frame, from the database
        elif verdict is Verdict.SEND:
            await self.send(text_data=message["text"])
            self.cursor.sent(seq)

    def _unpark(self) -> None:
        """Apply parked frames on this socket's own task (one at a time)."""
        idle = self.drainer is None or self.drainer.done()
        if self.cursor.parked and not self.suspended and not self.closing and idle:
            self.drainer = asyncio.create_task(self._drain_parked())

    async def _drain_parked(self) -> None:
        # Parked frames may now be older than what was sent meanwhile: the
        # cursor drops those, and asks for any hole to be filled.
        while not self.suspended and not self.closing and (message := self.cursor.unpark()) is not None:
            async with self.stream_lock:
                await self._apply(message)

    # --- internals ----------------------------------------------------------------
    async def _replay(self, after: int, latest: int) -> None:
        """Send every event with seq > after from the database, then `stream.live`."""
        # A resume may go back: the cursor starts again from `after`.
        if self.cursor.start(after=after, latest=latest) is Start.RESET:
            await self._reset(after, latest)
            return
        await self._send_from_db(upto=None)
        await self.send_frame(events.StreamLive(latest_seq=self.cursor.last_seq))

    async def _reset(self, after: int, latest: int) -> None:
        # Not a position of this stream: a client from another database, or
        # one that made up a number. Say so rather than guess.
        await self.send_frame(
            events.Reset(latest_seq=latest, detail=f"after={after} is beyond the latest seq {latest}")
        )

    async def _send_stored(self, batch: list[tuple[int, str]]) -> None:
        for seq, frame in batch:
            await self.send(text_data=frame)
            self.cursor.sent(seq)

    async def _send_from_db(self, *, upto: int | None) -> None:
        """Send stored events after the cursor, up to `upto` (or to the end)."""
        while True:
            batch, more = await in_tenant(
                self.tenant,
                selectors.stream_after,
                store_id=self.store_id,
                after=self.cursor.last_seq,
                upto=upto,
                limit=settings.STREAM_REPLAY_BATCH,
                max_bytes=settings.STREAM_REPLAY_PAGE_BYTES,
            )
            await self._send_stored(batch)
            if not more or self.closing:
                return
            # Backpressure: the next page is read once this one has gone out.
            await self.outbox.drained()

    def beat(self, refusal: int | None, latest: int | None) -> None:
        """The worker's heartbeat (`DashboardBeat`) checked this socket:
        close it if access ended (and no message said so: lost on the way),
        else repair a live frame that never came and say the latest seq."""
        if self.closing or (self.beating is not None and not self.beating.done()):
            return
        self.beating = asyncio.create_task(self._beat(refusal, latest))

    async def _beat(self, refusal: int | None, latest: int | None) -> None:
        try:
            if refusal is not None:
                await self.revoke(refusal)
                return
            async with self.stream_lock:
                if latest is not None and latest > self.cursor.last_seq:
                    # A live frame never came: repair from the database.
                    await self._send_from_db(upto=latest)
                await self.send_frame(events.Heartbeat(latest_seq=self.cursor.last_seq))
            self._unpark()
        except Exception:
            # The database may be restarting; the next beat tries again.
            logger.warning("heartbeat of store %s failed", self.store_id, exc_info=True)


class DashboardBeat:
    """Per worker: every STREAM_HEARTBEAT_SECONDS, one database trip per
    tenant for all the worker's dashboards — their credentials, their store
    access and their stores' latest seq — instead of one trip per socket
    (5,000 dashboards were 200 trips a second). Each socket then applies
    its verdict on its own task (`StoreOrdersSocket.beat`)."""

    def __init__(self):
        self.sockets: set[StoreOrdersSocket] = set()
        self.task: asyncio.Task | None = None

    def add(self, socket: StoreOrdersSocket) -> None:
        self.sockets.add(socket)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._forever())

    def discard(self, socket: StoreOrdersSocket) -> None:
        self.sockets.discard(socket)

    async def _forever(self) -> None:
        while self.sockets:
            await asyncio.sleep(settings.STREAM_HEARTBEAT_SECONDS)
            await self.beat()

    async def beat(self) -> None:
        by_tenant = defaultdict(list)
        for socket in list(self.sockets):
            if not socket.closing:
                by_tenant[socket.tenant.schema_name].append(socket)
        for sockets in by_tenant.values():
            try:
                verdicts = await in_tenant(sockets[0].tenant, beat_verdicts, sockets)
            except Exception:
                # The database may be restarting; the next beat tries again.
                logger.warning("dashboard heartbeat of %s failed", sockets[0].tenant.schema_name, exc_info=True)
                continue
            for socket, (refusal, latest) in zip(sockets, verdicts, strict=True):
                socket.beat(refusal, latest)


dashboard_beat = per_event_loop(DashboardBeat)


def beat_verdicts(sockets: list[StoreOrdersSocket]) -> list[tuple[int | None, int | None]]:
    """For each socket (one tenant's): (a close code if its access ended,
    else None; its store's latest seq). Six queries however many sockets.
    On the DB thread, in the tenant; the same rules as `refusal_now`."""
    pairs = [(socket.user.pk, socket.credential) for socket in sockets]
    ended = credentials_ended([pair for pair in pairs if pair[1] is not None])
    access = store_access_many(pairs={(socket.user.pk, socket.store_id) for socket in sockets})
    latest = selectors.latest_seqs(store_ids={socket.store_id for socket in sockets})
    refusals = {Access.ALLOWED: None, Access.FORBIDDEN: close_codes.FORBIDDEN}
    verdicts = []
    for socket, pair in zip(sockets, pairs, strict=True):
        if pair[1] is None or pair in ended:
            verdicts.append((close_codes.NOT_SIGNED_IN, None))
        else:
            refusal = refusals.get(access[(socket.user.pk, socket.store_id)], close_codes.NOT_FOUND)
            verdicts.append((refusal, None) if refusal is not None else (None, latest.get(socket.store_id)))
    return verdicts
