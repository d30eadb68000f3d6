"""BodyLimits (platform_core/body_limits.py) on its own, as ASGI: what it
reads, what it hands the app, and what it answers. The server-level story
(uvicorn, a raw socket, 50 MiB) is tests/security/test_body_limits.py."""

import json

import pytest

from platform_core.body_limits import BodyLimits

ROUTES = [(r"/api/integrations/[0-9]+/webhook$", "WEBHOOK_MAX_BODY_BYTES"), (r"/api/", "API_MAX_BODY_BYTES")]


def limited(app) -> BodyLimits:
    return BodyLimits(app, routes=ROUTES, default="DEFAULT_MAX_BODY_BYTES")


@pytest.fixture(autouse=True)
def limits(settings):
    settings.WEBHOOK_MAX_BODY_BYTES, settings.API_MAX_BODY_BYTES, settings.DEFAULT_MAX_BODY_BYTES = 300, 100, 10


class Recorder:
    """The app behind the middleware: keeps what it was given, answers 200."""

    def __init__(self):
        self.calls = []

    async def __call__(self, scope, receive, send):
        self.calls.append([await receive(), await receive()])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


class Client:
    """Feeds the body in `chunks` (then a disconnect); records what was sent back."""

    def __init__(self, chunks: list[bytes], content_length: int | bytes | None = None):
        self.messages = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)
        ]
        self.messages.append({"type": "http.disconnect"})
        self.received = 0  # messages the middleware took
        self.headers = [] if content_length is None else [(b"content-length", str(content_length).encode())]
        self.sent = []

    async def receive(self):
        self.received += 1
        return self.messages[self.received - 1]

    async def send(self, message):
        self.sent.append(message)

    async def request(self, app, path: str):
        scope = {"type": "http", "method": "POST", "path": path, "headers": self.headers}
        await app(scope, self.receive, self.send)
        start = self.sent[0]
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, self.sent[1]["body"]


async def test_a_declared_length_over_the_limit_is_refused_unread():
    app, client = Recorder(), Client([b"x" * 101], content_length=101)
    status, headers, body = await client.request(limited(app), "/api/tokens")
    assert status == 413 and client.received == 0 and app.calls == []
    assert headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == {
        "code": "too_large",
        "message": "bodies are limited to 100 bytes",
        "fields": {},
    }


async def test_a_streamed_body_is_refused_at_the_chunk_that_passes_the_limit():
    app, client = Recorder(), Client([b"x" * 40] * 10)  # 400 bytes, no Content-Length
    status, headers, _ = await client.request(limited(app), "/api/orders/1/comments")
    assert status == 413 and app.calls == []
    assert client.received == 3  # 120 bytes: it stopped reading there
    assert headers["connection"] == "close"


async def test_a_body_within_the_limit_reaches_the_app_whole():
    app, client = Recorder(), Client([b"a" * 100, b"b" * 100, b"c" * 100])
    status, _, body = await client.request(limited(app), "/api/integrations/7/webhook")
    assert (status, body) == (200, b"ok")
    [(first, then)] = app.calls
    assert first == {"type": "http.request", "body": b"a" * 100 + b"b" * 100 + b"c" * 100, "more_body": False}
    assert then == {"type": "http.disconnect"}  # later calls reach the server's receive


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/api/integrations/7/webhook", 300),
        ("/api/integrations/x/webhook", 100),
        ("/api/tokens", 100),
        ("/stores/", 10),
    ],
)
async def test_each_path_gets_its_route_s_limit(path, allowed):
    middleware = limited(Recorder())
    assert (await Client([b"x" * allowed]).request(middleware, path))[0] == 200
    assert (await Client([b"x" * (allowed + 1)]).request(middleware, path))[0] == 413


async def test_a_plain_text_answer_outside_the_api():
    _, headers, body = await Client([b"x" * 11]).request(limited(Recorder()), "/accounts/login/")
    assert headers["content-type"] == "text/plain; charset=utf-8" and body == b"bodies are limited to 10 bytes\n"


@pytest.mark.parametrize("content_length", [b"12abc", b"-1", b" 5"])
async def test_a_malformed_content_length_is_too_large(content_length):
    app, client = Recorder(), Client([b"x"], content_length=content_length.decode())
    assert (await client.request(limited(app), "/api/x"))[0] == 413
    assert app.calls == []


async def test_a_client_leaving_mid_body_gets_nothing_and_the_app_is_not_called():
    app, client = Recorder(), Client([b"x" * 5])
    client.messages[0]["more_body"] = True  # then the disconnect
    await limited(app)({"type": "http", "method": "POST", "path": "/api/x", "headers": []}, client.receive, client.send)
    assert client.sent == [] and app.calls == []


async def test_sockets_pass_untouched():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    async def never():
        raise AssertionError("a socket's messages are not the body limit's to read")

    await limited(app)({"type": "websocket", "path": "/ws/"}, never, never)
    assert seen == ["websocket"]
