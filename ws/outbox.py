"""A socket's outgoing frames: a bounded queue drained by the socket's own writer.

No code that serves several sockets (the worker's hub, the access watch)
ever awaits one socket's network write: it `push`es, which never waits.
The writer task awaits the ASGI send, which waits while the client's TCP
window is full. A client that falls behind — more than WS_OUTBOX_FRAMES
frames or WS_OUTBOX_BYTES characters waiting, or one send pending longer
than WS_SEND_TIMEOUT_SECONDS (health.LayerWatch looks) — overflows: its
socket is closed with 4408 and its client resumes by `seq`, while every
other socket goes on untouched.

The socket's own flows (a replay, a repair) use `room()` for backpressure:
they read the next page from the database only once the previous one has
drained.

Under the Procfile's server (config/websocket_protocol.py) the frames
pushed while nothing is being written go out without a task at all: one
callback at the end of the loop's turn writes everything pushed during it,
in one write, if the client's TCP window has room (`write_now`). Only when
it has not (or the server offers no such write) does the writer task
start and wait. A store's order to 1,000 sockets was 1,000 tasks, each
awaiting through the consumer and uvicorn's `send`; now it is 1,000
callbacks (docs/performance.md, "Frames written without a task").
"""

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from platform_core.availability import is_client_gone
from ws import close_codes
from ws.loops import cancel_and_wait, per_event_loop

logger = logging.getLogger(__name__)

# The outboxes of this event loop whose writer is running: the only ones a
# write can be stuck in (health.LayerWatch looks at these, not at every
# socket of the worker, once a second).
writing = per_event_loop(set)

# The ASGI extension of the Procfile's server (config/websocket_protocol.py)
# that takes several frames in one message and writes them at once.
SEND_MANY = "pregon.websocket.send_many"

# The ASGI extension of the same server that writes frames at once,
# without waiting: scope["extensions"][WRITE_NOW]["write"](texts) -> bool,
# False when they cannot go now (the client's window is full, the socket
# is closing); nothing is written then.
WRITE_NOW = "pregon.websocket.write_now"

# At most this much in one write: a replay's page, a burst of a busy store.
WRITE_FRAMES = 64
WRITE_CHARACTERS = 256 * 1024


class Outbox:
    """Idle, it holds no task and no event (10,000 idle sockets are common):
    the writer task starts with the first frame and ends when the queue is
    empty."""

    def __init__(
        self,
        *,
        write: Callable[[list[str]], Awaitable[None]],  # frames, in order, in one write
        close: Callable[[int], Awaitable[None]],
        max_frames: int,
        max_bytes: int,
        on_overflow: Callable[[], None],
        on_gone: Callable[[], None] | None = None,
        write_now: Callable[[list[str]], bool] | None = None,
    ):
        self._write, self._close, self._write_now = write, close, write_now
        self.max_frames, self.max_bytes = max_frames, max_bytes
        self._on_overflow = on_overflow
        self._on_gone = on_gone
        self.frames: collections.deque[str] = collections.deque()
        self.size = 0  # characters waiting
        self.close_code: int | None = None
        self.sending_since: float | None = None  # monotonic time the pending write started
        self._writer: asyncio.Task | None = None
        self._flush_due = False  # a write_now callback is scheduled
        self._progress: asyncio.Event | None = None  # made when a flow waits for room
        self._close_sent = False
        self._writing: set | None = None  # this loop's `writing`

    # --- for everyone --------------------------------------------------------------
    def push(self, text: str) -> None:
        """Queue a frame; never waits. Past the bound, the socket overflows."""
        if self.close_code is not None:
            return
        self.frames.append(text)
        self.size += len(text)
        if len(self.frames) > self.max_frames or self.size > self.max_bytes:
            self._on_overflow()
            return
        self._start_writer()

    def close(self, code: int) -> None:
        """Drop what has not gone out (clients resume by seq) and send the
        close after the write under way, if any."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.frames.clear()
        self.size = 0
        self._signal_progress()  # nobody waits for room on a closing socket
        self._start_writer()

    def overflow(self) -> None:
        """The client is too slow: as when the queue overflows."""
        self._on_overflow()

    def stuck_for(self, now: float) -> float:
        """How long the write under way has been waiting for the client."""
        return now - self.sending_since if self.sending_since is not None else 0.0

    async def stop(self) -> None:
        """The client is gone: no more writes."""
        if self._writer is not None:
            await cancel_and_wait(self._writer)

    # --- for the socket's own flows -----------------------------------------------
    async def room(self) -> None:
        """Wait until at most half the bound is waiting (or the socket closes)."""
        while self._over_low_water() and self.close_code is None:
            await self._wait_progress()

    async def drained(self) -> None:
        """Wait until everything queued so far has gone out (or the socket closes)."""
        while (self.frames or self.sending_since is not None) and self.close_code is None:
            await self._wait_progress()

    # --- the writer -------------------------------------------------------------------
    def _over_low_water(self) -> bool:
        return len(self.frames) > self.max_frames // 2 or self.size > self.max_bytes // 2

    async def _wait_progress(self) -> None:
        if self._progress is None:
            self._progress = asyncio.Event()
        self._progress.clear()
        await self._progress.wait()

    def _signal_progress(self) -> None:
        if self._progress is not None:
            self._progress.set()

    def _gone(self) -> None:
        """A write failed: the client left (or the server refused the
        frame). Nothing more can go out, so nothing waits for it: what is
        queued is dropped, and a flow waiting in `room()` or `drained()` (a
        replay between pages) goes on and finds the socket closing, instead
        of waiting for ever for a writer that is gone."""
        if self.close_code is None:
            self.close_code = close_codes.CONNECTION_LOST
        self._close_sent = True  # no close frame can be sent either
        self.frames.clear()
        self.size = 0
        if self._on_gone is not None:
            self._on_gone()

    def _start_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            return  # it takes the new frames with its next write
        if self._write_now is not None and self.close_code is None:
            if not self._flush_due:
                self._flush_due = True
                asyncio.get_running_loop().call_soon(self._flush)
            return
        self._writer = asyncio.create_task(self._run())

    def _next_batch(self) -> tuple[list[str], int]:
        """The frames of the next write, from the front: up to a bound."""
        batch, size = [], 0
        for text in self.frames:
            if batch and (len(batch) == WRITE_FRAMES or size + len(text) > WRITE_CHARACTERS):
                break
            batch.append(text)
            size += len(text)
        return batch, size

    def _sent(self, batch: list[str], size: int) -> None:
        if self.frames and self.frames[0] is batch[0]:  # not dropped by a close meanwhile
            for _ in batch:
                self.frames.popleft()
            self.size -= size
        self._signal_progress()

    def _flush(self) -> None:
        """End of the loop's turn: what was pushed during it goes out now,
        unless the client's window is full; then the writer task waits for
        it, as without `write_now`."""
        self._flush_due = False
        if self._writer is not None and not self._writer.done():
            return
        while self.frames and self.close_code is None:
            batch, size = self._next_batch()
            try:
                written = self._write_now(batch)
            except Exception:  # the writer's own write raises it again, and closes the socket with 1011
                written = False
            if not written:
                self._writer = asyncio.create_task(self._run())
                return
            self._sent(batch, size)

    async def _run(self) -> None:
        # Ends when the queue is empty; `push` starts it again. Between the
        # last check and the return nothing awaits, so no frame is stranded.
        if self._writing is None:
            self._writing = writing()  # looked up once per socket, not per write
        running = self._writing
        running.add(self)
        try:
            while self.frames and self.close_code is None:
                # Everything queued goes out in one write (one syscall, one
                # TCP segment for a replay's page), up to a bound.
                batch, size = self._next_batch()
                self.sending_since = time.monotonic()
                await self._write(batch)
                self.sending_since = None
                self._sent(batch, size)
            if self.close_code is not None and not self._close_sent:
                self._close_sent = True
                await self._close(self.close_code)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if not is_client_gone(error):
                # The server refused the frames, the client is still there:
                # tell it, as any socket that fails is closed (1011).
                logger.exception("socket writer failed")
                with contextlib.suppress(Exception):
                    await self._close(close_codes.INTERNAL_ERROR)
            self._gone()
        finally:
            running.discard(self)
            self.sending_since = None
            self._signal_progress()
