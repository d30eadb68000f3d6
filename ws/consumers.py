"""The base of every Pregón socket: JSON text frames with a `type`.

Subclasses say who may connect (`authorize_now`, run in the tenant's
schema), what to do once open (`opened`: join groups, send the first
frames) and which client message types they accept (`handlers`). A
connect makes one trip to the database thread (`admit`): the user of a
session cookie is loaded there (ws/middleware.py leaves it to the socket),
with the socket's own rule. The dashboard reads its user, its access and
what it opens with on the event loop instead (orders/consumers.py,
ws/reads.py): no trip to a thread at all. The base
gives every socket the same behaviour for the rest: sign-in required,
`ping` → `pong`, error frames that keep the socket open, a size limit that
closes with 1009, group membership that is undone on disconnect, and
access that is checked again while open (`recheck_access`, ws/access.py):
4401 once the credential it opened with no longer holds, 4403 once
`authorize_now` refuses.

Failures have clear outcomes too: Redis or PostgreSQL down closes (or
refuses) the socket with 1013 "try again later" (ws/health.py); a bug
closes it with 1011 and is logged, which reports it to Sentry. No
exception escapes a consumer.
"""

import asyncio
import contextlib
import logging
import time
from urllib.parse import parse_qs

from channels.auth import UserLazyObject
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.utils.functional import empty

from platform_core.access import credential_holds, user_for_session
from platform_core.availability import is_client_gone, is_outage
from platform_core.errors import ApplicationError
from platform_core.i18n import language_for
from platform_core.parsing import parse_client_int, parse_json
from ws import close_codes, events, groups, health
from ws.access import access_watch
from ws.db import in_tenant
from ws.events import Frame, to_json
from ws.hub import hub
from ws.outbox import SEND_MANY, WRITE_NOW, Outbox

logger = logging.getLogger(__name__)


class JsonSocket(AsyncWebsocketConsumer):
    # client message `type` → name of the coroutine method that handles it
    handlers: dict[str, str] = {"ping": "on_ping"}

    # A socket hears the channel layer only through the worker's hub
    # (ws/hub.py: store streams, a user's alerts, access changes), so it has
    # no channel of its own. With an alias, Channels would give it one: on
    # the pub/sub layer a SUBSCRIBE on connect and an UNSUBSCRIBE on close
    # (Redis round trips, one at a time per shard) and a receive task for
    # the socket's whole life. No alias configured: no channel (`_serve`
    # does not ask for one).
    channel_layer_alias = "pregon.sockets-have-no-channel"

    accepted = False
    closing = False  # a close was sent; nothing more may be
    registered = False  # counted in this worker's sockets of the user
    released = False  # groups, hub and presence left (once)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._background: set[asyncio.Task] = set()

    async def dispatch(self, message):
        # Channels' dispatch first awaits `aclose_old_connections()` for
        # every message: a hop to asgiref's one shared sync thread, queued
        # behind every other socket's hop, per pushed frame, to tidy a
        # connection that no code of these sockets uses (every ORM call runs
        # through ws/db.py, which closes old connections itself, on its own
        # thread, before and after). With 200 bells at 2,000 notifications/s
        # that hop was a quarter of the worker's time and the deliveries fell
        # seconds behind (profile in tests/bench/notes.md).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope, receive, send):
        try:
            await self._serve(scope, receive, send)
        except Exception as error:
            # Raised in channels' own code (a channel for this socket while
            # Redis is down) or in a handler: close cleanly, never crash.
            with contextlib.suppress(Exception):
                await self.release(close_codes.CONNECTION_LOST)  # leave groups, hub, presence, the worker's count
            if is_client_gone(error):
                return  # the client left while we were sending: nothing to report
            code = close_codes.TRY_AGAIN_LATER if is_outage(error) else close_codes.INTERNAL_ERROR
            if code == close_codes.INTERNAL_ERROR:
                logger.exception("socket %s failed", scope.get("path"))
            else:
                logger.warning("socket %s closed, a service is unavailable: %r", scope.get("path"), error)
            with contextlib.suppress(Exception):
                if not self.accepted:
                    await receive()  # websocket.connect
                    await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": code})

    async def _serve(self, scope, receive, send):
        """Channels' `AsyncConsumer.__call__` for a socket with no channel:
        each message of the client to `dispatch`, in order, until
        StopConsumer. (Channels' own waits for every message in a new task,
        through `asyncio.wait`, ready to wait on a channel beside it.)"""
        self.scope, self.channel_layer, self.base_send = scope, None, send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        self.accepted = True
        # From now on every frame goes through the outbox and its own writer
        # (ws/outbox.py): nothing that serves other sockets waits on this one.
        self.outbox = Outbox(
            write=self._write_frames,
            close=lambda code: AsyncWebsocketConsumer.close(self, code),
            max_frames=settings.WS_OUTBOX_FRAMES,
            max_bytes=settings.WS_OUTBOX_BYTES,
            on_overflow=self.too_slow,
            on_gone=self._client_gone,
            write_now=(self.scope.get("extensions") or {}).get(WRITE_NOW, {}).get("write"),
        )

    outbox: Outbox | None = None

    async def _write_frames(self, texts: list[str]) -> None:
        # The Procfile's server takes them in one message and one write
        # (config/websocket_protocol.py); any other ASGI server one by one.
        if SEND_MANY in self.scope.get("extensions", {}):
            await self.base_send({"type": SEND_MANY, "texts": texts})
        else:
            for text in texts:
                await AsyncWebsocketConsumer.send(self, text_data=text)

    async def close(self, code=None, reason=None):
        """Close after the write under way; frames not yet sent are dropped
        (clients resume by seq)."""
        if not self.closing:
            self.closing = True
            if self.outbox is None:
                await super().close(code, reason)
            else:
                self.outbox.close(code or 1000)

    def push(self, text: str) -> None:
        """Queue a frame without waiting: for code that serves many sockets."""
        if not self.closing:
            self.outbox.push(text)

    async def send(self, text_data=None, bytes_data=None, close=False):
        """Queue a frame, then wait for room: the socket's own flows (replies,
        replays) slow down to the pace of its client. Once closed (by the
        layer watch, a limit, lost access) nothing more goes out."""
        if self.closing:
            return
        if self.outbox is None:
            await super().send(text_data, bytes_data, close)
            return
        self.outbox.push(text_data)
        await self.outbox.room()

    def _client_gone(self) -> None:
        # A write failed: nothing more goes out. The socket's own flows (a
        # replay) stop at their next check; the disconnect that uvicorn
        # queued is read once `connect` returns, and releases the socket.
        self.closing = True

    def too_slow(self) -> None:
        """The client reads too slowly to keep up (its outbox overflowed, or
        a write waited past WS_SEND_TIMEOUT_SECONDS): close with 4408 and
        leave everything now; the client resumes by seq."""
        if self.closing:
            return
        logger.info(
            "socket %s of user %s closed with 4408: the client reads too slowly",
            self.scope.get("path"),
            getattr(self.user, "pk", None),
        )
        self.closing = True
        self.outbox.close(close_codes.TOO_SLOW)
        release = asyncio.create_task(self.release(close_codes.TOO_SLOW))
        self._background.add(release)
        release.add_done_callback(self._background.discard)

    async def connect(self):
        self.tenant = self.scope["tenant"]
        self.credential = self.scope.get("credential")
        self.joined: list[str] = []
        self.tokens, self.refilled, self.rate_notice_at = float(settings.WS_MESSAGE_BURST), time.monotonic(), 0.0
        # A close code reaches the client only on an accepted socket.
        await self.accept()
        watch = health.watch()
        if not watch.available:
            await self.close(code=close_codes.TRY_AGAIN_LATER)
            return
        if self.credential is None:  # no cookie, or no valid ticket
            await self.close(code=close_codes.NOT_SIGNED_IN)
            return
        try:
            # Subscribed before the credential is read: a change committed
            # after that read reaches this worker, and is checked below.
            access = access_watch()
            await access.join()
            since = access.generation
            refusal = await self.admit()
            if refusal is not None:
                await self.close(code=refusal)
                return
            self.language = self.language_now()
            if not watch.register(self, self.user_key):
                await self.close(code=close_codes.TOO_MANY_SOCKETS)
                return
            self.registered = True
            watch.start()
            if access.changed_since(since, self.user_key):
                # Access changed while this socket was being let in (no
                # socket of the user heard it): check again before the
                # socket gets anything. Changes from now on reach it.
                refusal = await in_tenant(self.tenant, self.refusal_now)
                if refusal is not None:
                    await self.revoke(refusal)
                    return
            await self.opened()
        except Exception as error:
            if not is_outage(error):
                raise
            logger.warning("socket %s refused, a service is unavailable: %r", self.scope.get("path"), error)
            await self.close(code=close_codes.TRY_AGAIN_LATER)

    async def admit(self) -> int | None:
        """Return a close code to refuse this socket, or None: one trip to
        the DB thread for `admit_now`. A socket that reads something to
        open does it in the same trip (orders/consumers.py)."""
        return await in_tenant(self.tenant, self.admit_now)

    def admit_now(self) -> int | None:
        """Who this socket is for, then `authorize_now`: 4401 if nobody is
        signed in by its credential. Runs on the DB thread, in the tenant's
        schema. Sets `self.user`."""
        user = self.scope["user"]
        if isinstance(user, UserLazyObject):
            if user._wrapped is empty:
                # Django's get_user: the session's user, still active, with
                # the password the session was signed in with.
                user._wrapped = user_for_session(self.credential.session_key)
            user = user._wrapped
        self.user = user
        if not user.is_authenticated:
            return close_codes.NOT_SIGNED_IN
        return self.authorize_now()

    # The language the socket's frames are written in, chosen at connect
    # (`language_now`); a socket that renders text renders it in this one.
    language: str = settings.LANGUAGE_CODE

    def language_now(self) -> str:
        """The user's language, then the tenant's, then the handshake's
        Accept-Language (platform_core/i18n.py). Reads no database."""
        accept = next((value for name, value in self.scope.get("headers", ()) if name == b"accept-language"), b"")
        return language_for(user=self.user, tenant=self.tenant, accept_language=accept.decode("latin1")[:500])

    def authorize_now(self) -> int | None:
        """The access rule of this kind of socket: a close code, or None to
        allow. Runs on the DB thread, in the tenant's schema, at connect and
        whenever access may have changed."""
        return None

    def refusal_now(self) -> int | None:
        """`authorize_now`, after the credential: 4401 if it no longer holds.
        Runs on the DB thread, in the tenant's schema."""
        if not credential_holds(user_id=self.user.pk, credential=self.credential):
            return close_codes.NOT_SIGNED_IN
        return self.authorize_now()

    def suspend(self) -> None:
        """Access may have changed: send no stream frame until `recheck_access`
        decides (sockets with a stream park them; see orders/consumers.py)."""

    async def recheck_access(self, *, session: str | None = None, token: int | None = None) -> None:
        """Access may have changed (ws/access.py): close if it is gone.
        `session` (a digest) or `token` name a credential that just ended."""
        if self.closing:
            return
        ended = (session is not None and self.credential.session_digest == session) or (
            token is not None and self.credential.token_id == token
        )
        refusal = close_codes.NOT_SIGNED_IN if ended else await in_tenant(self.tenant, self.refusal_now)
        if refusal is not None:
            await self.revoke(refusal)

    async def revoke(self, code: int) -> None:
        """Leave everything (presence too) and close, without waiting for the
        client to answer the close: it may never read again."""
        logger.info("socket %s of user %s closed with %s: access ended", self.scope.get("path"), self.user.pk, code)
        await self.release(code)
        await self.close(code=code)

    async def opened(self) -> None:
        """Join groups and send the first frames."""

    # --- joining, by audience (group names stay in ws/groups.py) ---------------
    async def join_user_stream(self) -> None:
        """Every frame published to this user (`publish_to_user`) reaches
        `deliver`, through the worker's hub, as a store's frames do: handed
        over already decoded, instead of through this socket's channel,
        Channels' receive loop and dispatch, which cost a bell at 2,000
        notifications/s a fifth of the worker (tests/bench/notes.md)."""
        group = groups.user_notifications(self.tenant, self.user.pk)
        await hub().join(group, self)
        self.joined.append(group)

    async def join_store_stream(self, store_id: int) -> None:
        """Every frame published to the store (`publish_to_store`) reaches
        `deliver`, through the worker's hub (one subscription per worker)."""
        self.store_group = groups.store_orders(self.tenant, store_id)
        await hub().join(self.store_group, self, in_order=True)

    async def leave_store_stream(self) -> None:
        if getattr(self, "store_group", None):
            await hub().leave(self.store_group, self)

    @property
    def user_key(self) -> tuple:
        return (self.tenant.schema_name, self.user.pk)

    async def websocket_disconnect(self, message):
        await self.release(message.get("code", close_codes.CONNECTION_LOST))
        if self.outbox is not None:
            await self.outbox.stop()
        raise StopConsumer()

    async def release(self, code) -> None:
        """`disconnect`, once, however many ways the socket ends."""
        if not self.released:
            self.released = True
            await self.disconnect(code)

    async def disconnect(self, code):
        if self.registered:
            health.watch().unregister(self, self.user_key)
            self.registered = False
        for group in getattr(self, "joined", []):
            # The hub leaves the layer's group with its last local socket;
            # with Redis down, its subscriptions died with it.
            await hub().leave(group, self)

    async def send_frame(self, frame: Frame) -> None:
        await self.send(text_data=to_json(frame))

    async def send_error(self, code: str, detail: str) -> None:
        await self.send_frame(events.Error(code=code, detail=detail))

    # --- client → server ------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None):
        if not await self._within_rate():
            return
        if text_data is None:
            await self.send_error("invalid_message", "frames must be JSON text, not binary")
            return
        # len() counts characters; a UTF-8 character is at most 4 bytes, so
        # only long frames pay for the encode.
        if len(text_data) * 4 > settings.WS_MAX_MESSAGE_BYTES and (
            len(text_data.encode()) > settings.WS_MAX_MESSAGE_BYTES
        ):
            await self.close(code=close_codes.MESSAGE_TOO_BIG)
            return
        try:
            message = parse_json(text_data)
        except ValueError as error:
            await self.send_error("invalid_json", f"the frame is not valid JSON: {error}")
            return
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self.send_error("invalid_message", "a frame must be a JSON object with a string `type`")
            return
        handler = self.handlers.get(message["type"])
        if handler is None:
            await self.send_error("unknown_type", f"unknown message type {message['type'][:64]!r}")
            return
        try:
            await getattr(self, handler)(message)
        except ApplicationError as error:
            await self.send_error("invalid_message", error.message)
        except Exception as error:
            if not is_outage(error):
                raise
            await self.send_error("unavailable", "the service is briefly unavailable; send it again shortly")

    async def _within_rate(self) -> bool:
        """A token bucket of WS_MESSAGES_PER_SECOND, WS_MESSAGE_BURST deep.
        Over it the message is dropped; the client hears so at most once a
        second (a flood is not answered with a flood)."""
        if self.take_tokens(1):
            return True
        now = time.monotonic()
        if now - self.rate_notice_at >= 1:
            self.rate_notice_at = now
            rate, burst = settings.WS_MESSAGES_PER_SECOND, settings.WS_MESSAGE_BURST
            await self.send_error(
                "rate_limited", f"at most {rate:g} messages per second (bursts of {burst}); this one was dropped"
            )
        return False

    def take_tokens(self, count: int) -> bool:
        """Charge `count` messages to this socket's bucket (a message, or an
        expensive request such as a long replay); False, and nothing
        charged, if it has not that many left."""
        if count <= 0:
            return True
        now = time.monotonic()
        self.tokens = min(
            settings.WS_MESSAGE_BURST, self.tokens + (now - self.refilled) * settings.WS_MESSAGES_PER_SECOND
        )
        self.refilled = now
        if self.tokens < count:
            return False
        self.tokens -= count
        return True

    async def on_ping(self, message: dict) -> None:
        await self.send_frame(events.Pong())

    async def query_position(self, name: str) -> int | None:
        """`?<name>=<n>` of the socket URL; a malformed one gets an error frame
        and counts as absent (the socket still opens)."""
        position, error = self.position_in_query(name)
        if error is not None:
            await self.send_error("invalid_message", error)
        return position

    def position_in_query(self, name: str) -> tuple[int | None, str | None]:
        """`?<name>=<n>` of the socket URL (None if absent), and what is
        wrong with a malformed one, which counts as absent."""
        raw = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get(name)
        if not raw:
            return None, None
        try:
            return parse_client_int(raw[0], name), None
        except ApplicationError as error:
            return None, error.message

    # --- hub → socket -----------------------------------------------------------
    def deliver(self, message: dict) -> None:
        """A frame published through ws.layer to a group this socket joined
        (already serialized), from the worker's hub. Pushed, never awaited:
        the hub serves every socket of the worker, and a slow client's
        outbox bound decides what happens to it."""
        self.push(message["text"])


class NotFoundSocket(AsyncWebsocketConsumer):
    """Any socket path that matches no route."""

    channel_layer_alias = JsonSocket.channel_layer_alias  # no channel: it only closes

    async def connect(self):
        await self.accept()
        await self.close(code=close_codes.NOT_FOUND)
