"""The sign-in gate (platform_core.sign_in.SignInGate), on its own: sign-in
posts beyond twice SIGN_IN_CONCURRENCY wait in the event loop, and are
answered 503 after SIGN_IN_QUEUE_SECONDS; nothing else waits."""

import asyncio
import json

from platform_core.sign_in import SignInGate


class HeldApp:
    """An ASGI app that answers 200 only when the test lets it."""

    def __init__(self):
        self.inside = 0
        self.release = asyncio.Event()

    async def __call__(self, scope, receive, send):
        self.inside += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app, *, path="/accounts/login/", method="POST") -> tuple[int, dict, bytes]:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": method, "path": path, "headers": []}, receive, send)
    start, body = sent
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body["body"]


async def test_sign_ins_past_the_gate_wait_their_turn_then_get_503(settings):
    settings.SIGN_IN_CONCURRENCY, settings.SIGN_IN_QUEUE_SECONDS = 1, 0.3
    held = HeldApp()
    gate = SignInGate(held, paths=["/accounts/login/", "/admin/login/"])
    inside = [asyncio.create_task(call(gate)), asyncio.create_task(call(gate, path="/admin/login/"))]
    waiting = asyncio.create_task(call(gate))
    await asyncio.sleep(0.05)
    assert held.inside == 2  # two at once (2 × SIGN_IN_CONCURRENCY), the third waits outside

    # Other requests never wait at the gate: a page, a GET of the sign-in page.
    other = [asyncio.create_task(call(gate, path="/api/orders")), asyncio.create_task(call(gate, method="GET"))]
    await asyncio.sleep(0.05)
    assert held.inside == 4

    status, headers, body = await waiting
    assert status == 503 and headers["retry-after"] == "5" and b"Too many sign-ins at once" in body
    held.release.set()
    assert [(await task)[0] for task in inside + other] == [200] * 4


async def test_a_waiting_sign_in_goes_in_when_a_turn_frees(settings):
    settings.SIGN_IN_CONCURRENCY, settings.SIGN_IN_QUEUE_SECONDS = 1, 5
    held = HeldApp()
    gate = SignInGate(held, paths=["/accounts/login/"])
    tasks = [asyncio.create_task(call(gate)) for _ in range(3)]
    await asyncio.sleep(0.05)
    assert held.inside == 2
    held.release.set()
    assert [(await task)[0] for task in tasks] == [200] * 3
    assert held.inside == 3


async def test_the_gate_answers_the_api_in_json(settings):
    settings.SIGN_IN_CONCURRENCY, settings.SIGN_IN_QUEUE_SECONDS = 1, 0.1
    held = HeldApp()
    gate = SignInGate(held, paths=["/api/sign-in"])
    inside = [asyncio.create_task(call(gate, path="/api/sign-in")) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert held.inside == 2
    status, headers, body = await asyncio.wait_for(call(gate, path="/api/sign-in"), 5)
    assert status == 503 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "busy"
    held.release.set()
    await asyncio.gather(*inside)
