"""Socket clients for tests on the full ASGI app (middleware included), and
the few ways tests wait on them."""

import asyncio

from channels.testing import WebsocketCommunicator


class Socket:
    """A WebSocket client on the full ASGI app."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator

    async def receive(self, timeout: float = 2) -> dict:
        return await self.communicator.receive_json_from(timeout=timeout)

    async def send(self, message: dict) -> None:
        await self.communicator.send_json_to(message)

    async def send_text(self, text: str) -> None:
        # Raw input: send_to() refuses an empty frame, which a client can send.
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def closed_with(self, timeout: float = 2) -> int:
        """Wait for the server to close; return the close code."""
        message = await self.communicator.receive_output(timeout=timeout)
        assert message["type"] == "websocket.close", message
        return message.get("code", 1000)

    async def nothing(self, timeout: float = 0.2) -> bool:
        return await self.communicator.receive_nothing(timeout=timeout)

    async def next_or_none(self, timeout: float = 0.3) -> dict | None:
        """The next frame, or None if none comes in time. (A timeout in
        receive() would cancel the application, as asgiref's testing does.)"""
        if await self.communicator.receive_nothing(timeout=timeout):
            return None
        return await self.receive()


def headers_for(host: str, origin: str | None, cookie: str | None) -> list[tuple[bytes, bytes]]:
    """A browser's handshake headers; origin "" means the host's own."""
    headers = [(b"host", host.encode())]
    if origin == "":
        origin = f"http://{host}"
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return headers


async def first_frames(socket: Socket, *types: str) -> None:
    """Read until each of `types` was seen: the socket is open and live."""
    wanted = set(types)
    while wanted:
        wanted.discard((await socket.receive(timeout=3))["type"])


async def closed(socket: Socket, timeout: float = 2) -> int:
    """The close code, within `timeout`. Presence frames before it are fine;
    a stream event is not (the socket must hear nothing of the store once
    it lost access)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await socket.communicator.receive_output(timeout=max(0.01, deadline - loop.time()))
        if message["type"] == "websocket.close":
            return message.get("code", 1000)
        assert '"seq"' not in message.get("text", ""), message


async def still_open(socket: Socket) -> bool:
    """It answers a ping (presence frames may come first)."""
    await socket.send({"type": "ping"})
    while (frame := await socket.receive(timeout=2))["type"] == "presence":
        pass
    return frame["type"] == "pong"
