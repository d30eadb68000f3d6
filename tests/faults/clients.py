"""Clients that behave like Pregón's own: they reconnect and resume by seq."""

import asyncio
import contextlib
import json
import urllib.error
import urllib.request

import websockets

from tests.orders.webhook_client import sign
from tests.servers import Server, websocket


class StreamFollower:
    """A dashboard's socket client (ws/static/ws/pregon-socket.js, in Python).

    Follows one store stream across a list of servers: when a socket closes
    or a connect fails, it tries the next server after a short pause and
    resumes with `?after=<last seq>`. It keeps every stream frame it got, in
    order, so a test can check that nothing was lost or repeated.
    """

    def __init__(self, servers: list[Server], *, store_id: int, cookie: str, host: str = "acme.localhost"):
        self.servers = servers
        self.store_id = store_id
        self.cookie = cookie
        self.host = host
        self.seqs: list[int] = []
        self.close_codes: list[int] = []
        self.failed_connects = 0
        self.opened = 0  # sockets that reached stream.live
        self.live = asyncio.Event()
        self.server_index = 0
        self._task: asyncio.Task | None = None

    @property
    def last_seq(self) -> int:
        return self.seqs[-1] if self.seqs else 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait_until(self, predicate, timeout: float, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"timed out waiting for {what}; seqs={self.seqs[-5:]} closes={self.close_codes}")
            await asyncio.sleep(0.05)

    async def _run(self) -> None:
        while True:
            server = self.servers[self.server_index % len(self.servers)]
            try:
                async with websocket(server, self.path(), host=self.host, cookie=self.cookie) as ws:
                    async for text in ws:
                        self._on_frame(json.loads(text), ws)
                    self.close_codes.append(ws.close_code)
            except websockets.ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else 1006)
            except (TimeoutError, OSError, websockets.InvalidHandshake):
                self.failed_connects += 1
            self.live.clear()
            self.server_index += 1  # as a load balancer would: maybe another worker
            await asyncio.sleep(0.2)

    def path(self) -> str:
        return f"/ws/stores/{self.store_id}/orders/" + (f"?after={self.last_seq}" if self.seqs else "")

    def _on_frame(self, frame: dict, ws) -> None:
        if frame["type"] == "stream.live":
            self.opened += 1
            self.live.set()
        elif frame["type"] == "reset":
            raise AssertionError(f"unexpected reset: {frame}")
        elif "seq" in frame:
            if frame["seq"] <= self.last_seq:
                raise AssertionError(f"seq {frame['seq']} after {self.last_seq}: a duplicate reached the client")
            self.seqs.append(frame["seq"])


class NotificationFollower(StreamFollower):
    """A customer's bell (pregon-socket.js's notifications client, in Python):
    reconnects with `?after=<highest id seen>` and keeps every id, once."""

    def __init__(self, servers: list[Server], *, cookie: str, host: str = "acme.localhost"):
        super().__init__(servers, store_id=0, cookie=cookie, host=host)
        self.ids: list[int] = []  # in the order first seen, deduplicated by id as clients do

    def path(self) -> str:
        return "/ws/notifications/" + (f"?after={max(self.ids)}" if self.ids else "")

    def _on_frame(self, frame: dict, ws) -> None:
        if frame["type"] == "notifications.unread":
            self.opened += 1
            self.live.set()
            found = frame["notifications"]
        elif frame["type"] == "notifications.missed":
            found = frame["notifications"]
        elif frame["type"] == "notification.created":
            found = [frame["notification"]]
        else:
            return
        self.ids.extend(n["id"] for n in found if n["id"] not in self.ids)


class WebhookFeeder:
    """An integrator posting signed `order.created` webhooks, one after another."""

    def __init__(self, servers: list[Server], *, integration_id: int, secret: str, host: str = "acme.localhost"):
        self.servers = servers
        self.integration_id = integration_id
        self.secret = secret
        self.host = host
        self.sent = 0
        self.statuses: list[int] = []

    def post_one(self, *, store_id: int = 1) -> int:
        self.sent += 1
        body = json.dumps(
            {
                "type": "order.created",
                "timestamp": "2026-11-21T12:00:00Z",
                "data": {"store_id": store_id, "external_id": f"FEED-{self.sent}", "total": "9.50"},
            }
        )
        server = self.servers[self.sent % len(self.servers)]
        return self._post(server, f"/api/integrations/{self.integration_id}/webhook", body, sign(self.secret, body))

    def change_status(self, order_id: int, status: str, *, token: str) -> int:
        """What staff do on the dashboard, through the token API."""
        body = json.dumps({"status": status})
        server = self.servers[order_id % len(self.servers)]
        return self._post(server, f"/api/orders/{order_id}/status", body, {"Authorization": f"Bearer {token}"})

    def _post(self, server: Server, path: str, body: str, headers: dict) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}{path}",
            data=body.encode(),
            headers={"Host": self.host, "Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        self.statuses.append(status)
        return status

    async def post(self, count: int, *, store_id: int = 1, pause: float = 0.02) -> None:
        for _ in range(count):
            await asyncio.to_thread(self.post_one, store_id=store_id)
            await asyncio.sleep(pause)
