"""The Procfile's WebSocket protocol (config/websocket_protocol.py): a
handshake the server refuses before it reaches the product (headers over
uvicorn's 8 KB) is answered at once and the server goes on serving; a
socket's queued frames leave the server together; a client that reads
nothing is not read either."""

import asyncio
import base64
import contextlib
import json
import os
import socket
from pathlib import Path

import pytest
import websockets
from asgiref.sync import sync_to_async

from tests.factories import create_order, login_cookie
from tests.servers import uvicorn_server, websocket

pytestmark = pytest.mark.django_db(transaction=True)


def send_handshake(port: int, cookie: str) -> socket.socket:
    """A connection that has sent a bell's WebSocket handshake."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    conn.sendall(
        (
            f"GET /ws/notifications/ HTTP/1.1\r\nHost: acme.localhost:{port}\r\n"
            f"Origin: http://acme.localhost:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    return conn


def answer_head(conn: socket.socket) -> bytes:
    """The server's answer up to its blank line, byte by byte (what follows
    may be frames); times out (a failure) if nothing comes."""
    answer = b""
    while not answer.endswith(b"\r\n\r\n") and (byte := conn.recv(1)):
        answer += byte
    return answer


def handshake(port: int, cookie: str) -> bytes:
    with send_handshake(port, cookie) as conn:
        return answer_head(conn)


def test_a_handshake_with_headers_over_the_limit_gets_431_at_once_and_the_next_is_served(world):
    with uvicorn_server() as server:
        # A browser with many cookies for the domain: uvicorn 0.54 left this
        # client waiting for ever (an outside test waited 90 s).
        refused = handshake(server.port, "sessionid=" + "x" * 8_300)
        assert refused.startswith(b"HTTP/1.1 431"), refused[:80]
        accepted = handshake(server.port, "sessionid=nobody")
        assert accepted.startswith(b"HTTP/1.1 101"), accepted[:80]


def writes_of(pid: int) -> int:
    """write(2)-family calls the process has made so far (libuv writes a
    socket with them)."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["syscw"])


async def test_a_reconnect_s_replay_leaves_the_server_in_a_few_writes_not_one_per_frame(world):
    missed = 30
    for n in range(missed):
        await sync_to_async(create_order)(world.acme.tenant, external_id=f"ACME-{n}")
    cookie = await login_cookie(world.acme.tenant, world.acme.staff1)
    with uvicorn_server() as server:
        async with websocket(server, "/ws/stores/1/orders/", host="acme.localhost", cookie=cookie) as warm:
            while json.loads(await warm.recv())["type"] != "stream.live":
                pass  # the host and the session are on record: what follows is the replay alone
        before = writes_of(server.process.pid)
        path = "/ws/stores/1/orders/?after=0&presence=off"
        async with websocket(server, path, host="acme.localhost", cookie=cookie) as board:
            frames = [json.loads(await board.recv())]
            while frames[-1]["type"] != "stream.live":
                frames.append(json.loads(await board.recv()))
            writes = writes_of(server.process.pid) - before
    seqs = [f["seq"] for f in frames if f["type"] == "order.created"]
    assert seqs == list(range(1, missed + 1))  # all of them, in order, once
    # One write per frame made 40 in all (measured before the change); now
    # the frames queued together leave together: 10 here, with the
    # handshake's answer and the worker's other writes meanwhile (Redis).
    assert writes <= missed // 2, writes


async def test_a_write_that_cannot_be_encoded_sends_none_of_its_frames_even_when_tried_again():
    """`send_many` (and `write_now`) write all of a batch or none of it: a
    lone surrogate after "ok" used to leave "ok" queued in the connection,
    and it went out with the next write, twice after the writer's retry."""
    with uvicorn_server(app="tests.ws_write_probe:application") as server:
        async with websocket(server, "/ok-then-bad", host="127.0.0.1") as client:
            received = []
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    received.append(await asyncio.wait_for(client.recv(), timeout=10))
            code = client.close_code
    assert received == ["after"]
    assert code == 1011


def masked_frame(opcode: int, payload: bytes = b"", *, fin: bool = True) -> bytes:
    """A client's frame (a client masks every frame it sends), payload under 126 bytes."""
    mask = os.urandom(4)
    return (
        bytes([(0x80 if fin else 0) | opcode, 0x80 | len(payload)])
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


def open_raw(port: int, cookie: str) -> socket.socket:
    """A bell's socket past its handshake, as bytes."""
    conn = send_handshake(port, cookie)
    answer = answer_head(conn)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return conn


async def test_a_client_that_sends_pings_and_reads_nothing_is_no_longer_read(world):
    cookie = await login_cookie(world.acme.tenant, world.acme.customer)
    flood, budget = masked_frame(0x9, b"p" * 125) * 8_000, 96 * 1024 * 1024  # 1 MB a send, 96 MB in all
    with uvicorn_server() as server:
        conn = open_raw(server.port, cookie)
        try:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # it reads nothing: keep its side small
            # From here on it only sends pings. The server answers each with a
            # pong it cannot deliver: it must stop reading, not keep the pongs.
            conn.setblocking(False)
            sent, deadline = 0, asyncio.get_running_loop().time() + 5
            while sent < budget and asyncio.get_running_loop().time() < deadline:
                try:
                    sent += conn.send(flood[sent % len(flood) :])  # whole frames, one after the other
                except BlockingIOError:
                    await asyncio.sleep(0.05)
            # The server reads until 8 MB of pongs wait unread
            # (PONG_BACKLOG_BYTES), then the kernel's buffers fill: about
            # 17 MB in all. Before, it read everything and held the pongs.
            assert sent < budget // 4, f"{sent:,} bytes of pings were taken"
            async with websocket(server, "/ws/notifications/", host="acme.localhost", cookie=cookie) as other:
                assert json.loads(await other.recv())  # the worker serves the others meanwhile
        finally:
            conn.close()


def close_code_of(conn: socket.socket) -> int:
    """Read the server's frames (unmasked) up to its close frame: its code."""
    buffer = b""

    def take(n: int) -> bytes:
        nonlocal buffer
        while len(buffer) < n:
            chunk = conn.recv(65536)
            assert chunk, "the server closed without a close frame"
            buffer += chunk
        taken, buffer = buffer[:n], buffer[n:]
        return taken

    while True:
        first, length = take(2)
        if length == 126:
            length = int.from_bytes(take(2), "big")
        elif length == 127:
            length = int.from_bytes(take(8), "big")
        payload = take(length)
        if first & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big")


async def test_a_message_that_never_ends_in_empty_pieces_is_refused_with_1009(world):
    cookie = await login_cookie(world.acme.tenant, world.acme.customer)
    with uvicorn_server() as server:
        conn = open_raw(server.port, cookie)
        try:
            # A text message begun, then pieces of nothing: `--ws-max-size`
            # counts bytes, so these never reach it.
            pieces = masked_frame(0x1, b"{", fin=False) + masked_frame(0x0, fin=False) * 1_100
            conn.sendall(pieces)
            assert close_code_of(conn) == 1009
        finally:
            conn.close()
        async with websocket(server, "/ws/notifications/", host="acme.localhost", cookie=cookie) as other:
            assert json.loads(await other.recv())  # the worker goes on
