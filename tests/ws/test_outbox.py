"""A socket's outgoing queue (ws/outbox.py), with a writer that we hold."""

import asyncio
import time

import pytest
from uvicorn.protocols.utils import ClientDisconnected

from ws.outbox import Outbox


class Client:
    """Reads only when told to: `release()` lets one pending write through
    (a write carries every frame queued when it started, up to a bound)."""

    def __init__(self):
        self.received: list[str] = []
        self.writes: list[list[str]] = []
        self.closed_with: int | None = None
        self.gate = asyncio.Semaphore(0)

    async def write(self, texts: list[str]) -> None:
        await self.gate.acquire()
        self.writes.append(list(texts))
        self.received.extend(texts)

    async def close(self, code: int) -> None:
        self.closed_with = code

    def release(self, count: int = 1) -> None:
        for _ in range(count):
            self.gate.release()


def outbox_for(client: Client, overflows: list, *, frames=4, size=100, gone: list | None = None) -> Outbox:
    return Outbox(
        write=client.write,
        close=client.close,
        max_frames=frames,
        max_bytes=size,
        on_overflow=lambda: overflows.append(True),
        on_gone=None if gone is None else lambda: gone.append(True),
    )


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_push_never_waits_and_frames_go_out_in_order():
    client, overflows = Client(), []
    box = outbox_for(client, overflows)
    for text in ("a", "b", "c"):
        box.push(text)  # the client reads nothing yet: still no wait
    client.release(3)
    await settle()
    assert client.received == ["a", "b", "c"] and overflows == []


async def test_what_queued_up_while_a_write_was_under_way_goes_out_in_the_next_write():
    client, overflows = Client(), []
    box = outbox_for(client, overflows, frames=10)
    box.push("a")
    await settle()  # the writer took "a" alone and waits for the client
    for text in ("b", "c", "d"):
        box.push(text)
    client.release(2)
    await settle()
    assert client.writes == [["a"], ["b", "c", "d"]]
    assert box.size == 0 and not box.frames


async def test_one_write_is_bounded_in_frames_and_in_characters(monkeypatch):
    monkeypatch.setattr("ws.outbox.WRITE_FRAMES", 3)
    monkeypatch.setattr("ws.outbox.WRITE_CHARACTERS", 10)
    client, overflows = Client(), []
    box = outbox_for(client, overflows, frames=20, size=1000)
    for text in ["a", "b", "c", "d", "x" * 8, "y" * 30, "z"]:
        box.push(text)
    client.release(10)
    await settle()
    # 3 frames at most; 10 characters at most, unless one frame alone is longer
    assert client.writes == [["a", "b", "c"], ["d", "x" * 8], ["y" * 30], ["z"]]
    assert overflows == []


@pytest.mark.parametrize(
    "frames, size, pushes, overflow",
    [
        (4, 100, ["x"] * 4, False),  # exactly the bound in frames (one is being written)
        (4, 100, ["x"] * 6, True),  # past the bound in frames
        (10, 100, ["x" * 60, "y" * 60], True),  # past the bound in characters
        (10, 100, ["x" * 50, "y" * 50], False),
    ],
)
async def test_a_client_that_does_not_read_overflows_past_the_bound(frames, size, pushes, overflow):
    client, overflows = Client(), []
    box = outbox_for(client, overflows, frames=frames, size=size)
    for text in pushes:
        box.push(text)
        await settle()
    assert bool(overflows) is overflow


async def test_a_stuck_write_is_measured_so_a_watch_can_close_it():
    client, overflows = Client(), []
    box = outbox_for(client, overflows)
    box.push("a")
    await settle()
    await asyncio.sleep(0.05)
    assert box.stuck_for(time.monotonic()) >= 0.05
    client.release()
    await settle()
    assert box.stuck_for(time.monotonic()) == 0


async def test_close_drops_what_was_not_sent_and_closes_after_the_write_under_way():
    client, overflows = Client(), []
    box = outbox_for(client, overflows)
    box.push("a")
    await settle()  # "a" is being written
    for text in ("b", "c"):
        box.push(text)
    box.close(4408)
    box.push("after the close")  # ignored
    client.release()  # "a" was being written: it completes
    await settle()
    assert client.received == ["a"] and client.closed_with == 4408


async def test_room_and_drained_give_backpressure_to_the_socket_s_own_flows():
    client, overflows = Client(), []
    box = outbox_for(client, overflows, frames=4)
    box.push("a")
    await settle()  # "a" is being written, alone
    for text in ("b", "c"):
        box.push(text)
    room = asyncio.create_task(box.room())
    drained = asyncio.create_task(box.drained())
    await settle()
    assert not room.done() and not drained.done()  # 3 waiting: over half the bound
    client.release(1)  # "a" written; "b" and "c" now under way, together
    await settle()
    assert room.done() and not drained.done()
    client.release(1)
    await settle()
    assert drained.done() and client.received == ["a", "b", "c"]


class GoneClient(Client):
    """Left after `writes` writes: the next raises as uvicorn's send does."""

    def __init__(self, writes: int = 0):
        super().__init__()
        self.left_after = writes

    async def write(self, texts: list[str]) -> None:
        if len(self.writes) >= self.left_after:
            raise ClientDisconnected()  # what uvicorn's send raises once the client is gone
        self.writes.append(list(texts))
        self.received.extend(texts)


@pytest.mark.parametrize("wait", ["drained", "room"])
async def test_a_client_that_leaves_mid_write_does_not_leave_the_socket_s_flows_waiting(wait):
    # A replay waits for its page to drain before reading the next; if the
    # client left during it, the writer died and nothing woke the replay:
    # the socket hung for ever, holding its page and its place in the
    # user's socket limit (found by an outside test).
    client, gone = GoneClient(writes=1), []
    box = outbox_for(client, [], gone=gone)
    box.push("a")
    await settle()  # written
    for text in ("b", "c", "d"):
        box.push(text)  # over half the bound: `room()` would wait
    await asyncio.wait_for(getattr(box, wait)(), timeout=1)
    assert gone == [True] and client.received == ["a"]
    assert box.size == 0 and not box.frames
    box.push("after")  # ignored: nothing more goes out
    await settle()
    assert client.received == ["a"] and client.closed_with is None


class RefusingServer(Client):
    """The server refuses the frames (a bug), the client is still there."""

    async def write(self, texts: list[str]) -> None:
        raise RuntimeError("refused")


async def test_a_write_the_server_refuses_closes_the_socket_with_1011_and_leaves_nothing_waiting():
    client, gone = RefusingServer(), []
    box = outbox_for(client, [], gone=gone)
    for text in ("a", "b", "c"):
        box.push(text)
    await asyncio.wait_for(box.drained(), timeout=1)
    assert client.closed_with == 1011 and gone == [True] and not box.frames


class Window:
    """The Procfile server's `write_now`: frames go at once while the
    client's TCP window has room (`open`); else nothing is written."""

    def __init__(self):
        self.open = True
        self.writes: list[list[str]] = []

    def write_now(self, texts: list[str]) -> bool:
        if self.open:
            self.writes.append(list(texts))
        return self.open


def immediate_outbox(client: Client, window: Window, **bounds) -> Outbox:
    return Outbox(
        write=client.write,
        close=client.close,
        max_frames=bounds.get("frames", 10),
        max_bytes=bounds.get("size", 1000),
        on_overflow=lambda: None,
        write_now=window.write_now,
    )


async def test_frames_pushed_in_one_turn_of_the_loop_go_out_at_once_in_one_write_and_no_task():
    client, window = Client(), Window()
    box = immediate_outbox(client, window)
    for text in ("a", "b", "c"):
        box.push(text)
    assert window.writes == []  # not during the turn: at its end, together
    await asyncio.sleep(0)
    assert window.writes == [["a", "b", "c"]] and client.writes == []
    assert box._writer is None and box.size == 0 and not box.frames
    box.push("d")
    await asyncio.wait_for(box.drained(), timeout=1)
    assert window.writes == [["a", "b", "c"], ["d"]]


async def test_a_full_window_hands_the_frames_to_the_writer_that_waits_in_order():
    client, window = Client(), Window()
    box = immediate_outbox(client, window)
    box.push("a")
    await asyncio.sleep(0)
    window.open = False  # the client stopped reading
    for text in ("b", "c"):
        box.push(text)
    await settle()
    window.open = True
    box.push("d")  # while the writer waits: it goes behind "b" and "c", not ahead
    await settle()
    assert window.writes == [["a"]] and client.writes == []
    client.release(2)
    await settle()
    assert window.writes == [["a"]] and client.writes == [["b", "c"], ["d"]]
    box.push("e")  # the writer is done: at once again
    await asyncio.sleep(0)
    assert window.writes == [["a"], ["e"]]


async def test_a_close_in_the_same_turn_drops_the_frames_and_sends_only_the_close():
    client, window = Client(), Window()
    box = immediate_outbox(client, window)
    box.push("a")
    box.close(4408)
    await settle()
    assert window.writes == [] and client.received == [] and client.closed_with == 4408


async def test_the_bound_of_one_write_holds_for_writes_at_once(monkeypatch):
    monkeypatch.setattr("ws.outbox.WRITE_FRAMES", 2)
    client, window = Client(), Window()
    box = immediate_outbox(client, window)
    for text in ("a", "b", "c"):
        box.push(text)
    await asyncio.sleep(0)
    assert window.writes == [["a", "b"], ["c"]]


async def test_a_frame_the_immediate_write_refuses_goes_to_the_writer_which_closes_the_socket_with_1011():
    # A frame that cannot be encoded (a lone surrogate) raises in `write_now`
    # as in the server's `send`: as without `write_now`, the socket is
    # closed with 1011, not left with the frame at the head of its queue
    # for ever (found by an outside test).
    def refuse(texts):
        raise UnicodeEncodeError("utf-8", texts[0], 0, 1, "surrogates not allowed")

    client, gone = RefusingServer(), []
    box = Outbox(
        write=client.write,
        close=client.close,
        max_frames=10,
        max_bytes=1000,
        on_overflow=lambda: None,
        on_gone=lambda: gone.append(True),
        write_now=refuse,
    )
    box.push("\ud800")
    await asyncio.wait_for(box.drained(), timeout=1)
    assert client.closed_with == 1011 and gone == [True] and not box.frames
