"""uvicorn's `websockets-sansio` WebSocket protocol, with one fix and two
savings. Served by the Procfile's
`--ws config.websocket_protocol:WebSocketProtocol`.

- The fix: a handshake request its parser refuses (a request line or
  header over 8 KB: a browser with many cookies for the domain) gets the
  431 (or 400) answer that `websockets` prepared, and the connection
  closes. uvicorn 0.54 only writes what `websockets` prepares after a
  complete request, so this answer was never sent and the client waited
  for ever (found by an outside test).
- Several frames in one write: the ASGI extension `SEND_MANY` takes a
  message {"type": SEND_MANY, "texts": [...]} and writes all its frames
  with one call to the transport (one syscall), where uvicorn writes each
  `websocket.send` on its own. A socket's writer sends what has queued up
  (ws/outbox.py): a reconnect's replay and its `stream.live` go out in
  one write instead of 21.
- Frames written without waiting: the ASGI extension `WRITE_NOW` offers
  a plain function that writes frames at once if the client's TCP window
  has room, and says so (False: nothing written, the caller awaits `send`
  as before). A socket's outbox writes with it from a callback instead of
  a task awaiting `send` through the consumer (ws/outbox.py).
- The handshake's request and response are let go once it is answered:
  uvicorn keeps both (two header maps, about 40 objects) for the socket's
  whole life, and every one of them is walked by each collection of the
  garbage collector while the socket is young.
- A client that pings and does not read is not read either, once the
  pongs it left unread pass PONG_BACKLOG_BYTES; it is read again when it
  has read them. uvicorn answers every ping with a pong whether or not the
  client reads them, so a client sending pings and reading nothing grew
  the worker by what it sent (151 MB of pings: +140 MB, found by an
  outside test). Pausing at the transport's high-water mark (64 KB)
  instead stopped reading a dashboard that reads, but not as fast as a
  long replay is written: its keepalive pongs went unread and uvicorn
  closed it after 40 s (found by an outside test).
- A message may come in at most MAX_FRAGMENTS pieces, else the socket is
  closed with 1009. uvicorn keeps every piece of a message until its last
  one, and `--ws-max-size` counts bytes: empty pieces count none, so a
  client sending a message that never ends, in empty pieces, grew the
  worker without bound (47 MB of them: +56 MB, found by an outside test).
"""

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState

from ws.close_codes import MESSAGE_TOO_BIG
from ws.outbox import SEND_MANY, WRITE_NOW

# Unread bytes in a socket's write buffer above which a ping stops the
# socket being read. The outbox never leaves more than a batch or one
# frame there (about 2 MB at most): only unread pongs get this far.
PONG_BACKLOG_BYTES = 8 * 1024 * 1024

# Pieces (frames) of one message the client may send; a browser sends a
# message in one. 65,536 one-byte pieces would fill `--ws-max-size`.
MAX_FRAGMENTS = 1024


class WebSocketProtocol(WebSocketsSansIOProtocol):
    pong_flooded = False

    def handle_ping(self) -> None:
        super().handle_ping()
        if not self.pong_flooded and self.transport.get_write_buffer_size() > PONG_BACKLOG_BYTES:
            self.pong_flooded = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.pong_flooded:
            self.pong_flooded = False
            if not self.read_paused:  # uvicorn's own pause: the app has a message to take first
                self.transport.resume_reading()

    def handle_cont(self, event) -> None:
        if self.close_sent:
            return
        if len(self.frames) >= MAX_FRAGMENTS and not event.fin:
            self.frames = []
            self.conn.send_close(MESSAGE_TOO_BIG, "a message in too many pieces")
            self.handle_parser_exception()
            return
        super().handle_cont(event)

    async def receive(self):
        message = await super().receive()
        if self.pong_flooded and not self.transport.is_closing():
            self.transport.pause_reading()  # uvicorn resumed reading once the app took its messages
        return message

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # No request came out of the bytes (uvicorn answers those itself).
        refused = not self.handshake_initiated and self.conn.handshake_exc is not None
        if refused and not self.transport.is_closing():
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    def handle_connect(self, event) -> None:
        super().handle_connect(event)
        if getattr(self, "scope", None) is not None:  # the app is called (its task has not run yet)
            self.scope["extensions"][SEND_MANY] = {}
            self.scope["extensions"][WRITE_NOW] = {"write": self.write_now}

    def write_now(self, texts: list[str]) -> bool:
        """The frames, in one write, if they can go without waiting: as
        `send` would write them once `writable`; False, and nothing
        written, in any other case (the caller then awaits `send`, which
        waits or raises as it always has)."""
        ready = self.writable.is_set() and self.handshake_complete and self.initial_response is None
        if not ready or self.disconnected or self.close_sent or self.transport.is_closing():
            return False
        try:
            self._write_texts(texts)
        except InvalidState:  # the client's close came in: `send` says so
            return False
        return True

    def _write_texts(self, texts: list[str]) -> None:
        """Text frames, in one call to the transport (one syscall); all or
        none of them. Each is encoded before any is framed: a text that
        cannot be (a lone surrogate) raised after the frames before it were
        queued in the connection, and they went out with the next write,
        the retry of the same batch among them (twice)."""
        payloads = [text.encode() for text in texts]
        for payload in payloads:
            self.conn.send_text(payload)
        self.transport.write(b"".join(self.conn.data_to_send()))

    async def send(self, message) -> None:
        if message["type"] != SEND_MANY:
            await super().send(message)
            if self.handshake_complete:
                self.request = self.response = None
            return
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        if self.close_sent:  # uvicorn closed it (a keepalive ping unanswered): as good as gone
            raise ClientDisconnected()
        if not self.handshake_complete or self.initial_response is not None:
            raise RuntimeError(f"'{SEND_MANY}' before the handshake was accepted.")
        try:
            self._write_texts(message["texts"])
        except InvalidState:
            raise ClientDisconnected() from None
