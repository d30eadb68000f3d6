"""Every way of losing access × every kind of socket × two worker processes.

Two uvicorn workers share one Redis, as in production. staff1 of acme
holds eight sockets: the store board and the bell, each opened with a
session cookie and with a ticket asked for by an API token, on worker A and
on worker B. Then one thing ends access — through worker A's HTTP API where
a person would do it there (sign out, change password, revoke a token), or
as the tenant's admin does it (the ORM: removing a membership, deactivating)
— and exactly the sockets that lost access must close within 2 seconds
with the expected code, on both workers; the others stay open.
"""

import asyncio
import contextlib
import json
import os
import time
import urllib.error
import urllib.request

import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connections
from django_tenants.utils import tenant_context

from platform_core.tokens import api_token_create
from tests.factories import PASSWORD, create_order, session_cookie
from tests.servers import Server, uvicorn_server, websocket
from ws import close_codes

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.redis,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: two workers share it"),
]

HOST = "acme.localhost"
KINDS = ("board", "bell")  # the store's dashboard, the notifications socket
PATHS = {"board": "/ws/stores/1/orders/", "bell": "/ws/notifications/"}
OPEN = "open"
DEADLINE = 2.0
CSRF = "a" * 32  # a CSRF secret of our choosing, sent as cookie and header


@pytest.fixture
def workers(world):
    with uvicorn_server() as a, uvicorn_server() as b:
        yield {"A": a, "B": b}
    connections.close_all()


def http(server: Server, method: str, path: str, *, cookie: str = "", token: str = "", form: dict | None = None):
    headers = {"Host": HOST}
    data = None
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cookie:
        headers.update({"Cookie": f"{cookie}; csrftoken={CSRF}", "X-CSRFToken": CSRF})
    if form is not None:
        data = "&".join(f"{k}={v}" for k, v in form.items()).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=data, headers=headers, method=method)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Held:
    """One open socket, read in the background until it closes."""

    def __init__(self, name: str, ws):
        self.name, self.ws = name, ws
        self.code: int | None = None
        self.closed_at: float | None = None
        self.stream_frames_after: list[dict] = []  # store events received after access ended
        self.ended_at: float | None = None
        self.task = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for text in self.ws:
                frame = json.loads(text)
                if self.ended_at is not None and "seq" in frame:
                    self.stream_frames_after.append(frame)
        except websockets.ConnectionClosed:
            pass
        self.code = self.ws.close_code
        self.closed_at = time.monotonic()


async def open_live(server: Server, path: str, cookie: str = ""):
    ws = await websocket(server, path, host=HOST, cookie=cookie or None)
    live = "stream.live" if "stores" in path else "notifications.unread"
    while json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] != live:
        pass
    return ws


@pytest.fixture
def staff(world):
    """staff1's two browser sessions and an API token (another for the token-way cells)."""
    acme = world.acme
    with tenant_context(acme.tenant):
        _row, token = api_token_create(user=acme.staff1, name="kitchen display")
    return {
        "session": session_cookie(acme.tenant, acme.staff1),
        "other_session": session_cookie(acme.tenant, acme.staff1),
        "token": token,
    }


async def hold_everything(workers, staff) -> dict[str, Held]:
    """staff1's eight sockets: kind × (cookie | ticket) × worker."""
    held = {}
    for worker_name, server in workers.items():
        for kind in KINDS:
            ws = await open_live(server, PATHS[kind], staff["session"])
            held[f"{kind}/session/{worker_name}"] = Held(f"{kind}/session/{worker_name}", ws)
            status, body = await asyncio.to_thread(http, server, "POST", "/api/ws-tickets", token=staff["token"])
            assert status == 201, body
            ticket = json.loads(body)["ticket"]
            ws = await open_live(server, f"{PATHS[kind]}?ticket={ticket}")
            held[f"{kind}/token/{worker_name}"] = Held(f"{kind}/token/{worker_name}", ws)
    return held


# --- the ways access ends -----------------------------------------------------------
async def remove_membership(world, workers, staff):
    from stores.models import StaffMembership

    def remove():
        with tenant_context(world.acme.tenant):
            StaffMembership.objects.filter(user=world.acme.staff1, store_id=1).delete()

    await sync_to_async(remove)()


async def deactivate(world, workers, staff):
    def change():
        with tenant_context(world.acme.tenant):
            world.acme.staff1.is_active = False
            world.acme.staff1.save()

    await sync_to_async(change)()


async def sign_out(world, workers, staff):
    status, _ = await asyncio.to_thread(http, workers["A"], "POST", "/accounts/logout/", cookie=staff["session"])
    assert status == 302


async def change_password(world, workers, staff):
    # From the *other* session: Django keeps the changer's own session
    # signed in, and ends every other one.
    form = {
        "old_password": PASSWORD,
        "new_password1": "a-new-long-passphrase",
        "new_password2": "a-new-long-passphrase",
        "csrfmiddlewaretoken": CSRF,
    }
    status, body = await asyncio.to_thread(
        http, workers["A"], "POST", "/accounts/password_change/", cookie=staff["other_session"], form=form
    )
    assert status == 302, body[:500]


async def revoke_token(world, workers, staff):
    status, body = await asyncio.to_thread(http, workers["A"], "GET", "/api/tokens", token=staff["token"])
    token_id = json.loads(body)["results"][0]["id"]
    status, _ = await asyncio.to_thread(http, workers["A"], "DELETE", f"/api/tokens/{token_id}", token=staff["token"])
    assert status == 200


def outcome(board: str | int, bell: str | int, *, session: bool = True, token: bool = True) -> dict[str, object]:
    """Expected outcome per socket name, for both workers."""
    expected = {}
    for worker_name in ("A", "B"):
        for credential, affected in (("session", session), ("token", token)):
            expected[f"board/{credential}/{worker_name}"] = board if affected else OPEN
            expected[f"bell/{credential}/{worker_name}"] = bell if affected else OPEN
    return expected


WAYS = {
    "membership removed": (remove_membership, outcome(close_codes.FORBIDDEN, OPEN)),
    "user deactivated": (deactivate, outcome(close_codes.NOT_SIGNED_IN, close_codes.NOT_SIGNED_IN)),
    "signed out": (sign_out, outcome(close_codes.NOT_SIGNED_IN, close_codes.NOT_SIGNED_IN, token=False)),
    # API tokens are not sessions: a new password does not revoke them (revoke them yourself).
    "password changed": (change_password, outcome(close_codes.NOT_SIGNED_IN, close_codes.NOT_SIGNED_IN, token=False)),
    "token revoked": (revoke_token, outcome(close_codes.NOT_SIGNED_IN, close_codes.NOT_SIGNED_IN, session=False)),
}


@pytest.mark.parametrize("way", list(WAYS))
async def test_losing_access_closes_exactly_the_affected_sockets_on_both_workers(world, workers, staff, way):
    change, expected = WAYS[way]
    held = await hold_everything(workers, staff)
    try:
        started = time.monotonic()
        for socket in held.values():
            socket.ended_at = started
        await change(world, workers, staff)
        # A new order right after: boards still allowed get it, the others never.
        await sync_to_async(create_order)(world.acme.tenant, store_id=1)
        await asyncio.sleep(DEADLINE - (time.monotonic() - started))

        got = {name: (socket.code if socket.closed_at is not None else OPEN) for name, socket in held.items()}
        assert got == expected
        for name, socket in held.items():
            if socket.closed_at is not None:
                assert socket.closed_at - started <= DEADLINE, name
                assert socket.stream_frames_after == [], name
            elif name.startswith("board/"):
                assert [frame["type"] for frame in socket.stream_frames_after] == ["order.created"], name
    finally:
        for socket in held.values():
            with contextlib.suppress(Exception):
                await socket.ws.close()
            socket.task.cancel()
