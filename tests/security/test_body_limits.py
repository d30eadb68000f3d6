"""Request bodies over their route's limit are refused at the ASGI edge,
under uvicorn, before Django reads them: a raw socket streams a body far
over the limit and watches what the server does meanwhile.

Before, Django read every body whole before any view ran, spooling it to a
temporary file past 2.5 MB: a 50 MiB chunked webhook was written to disk
and only then answered 413; an anonymous 100 MiB post to /api/tokens was
read in full to be answered 401.
"""

import json
import os
import select
import socket
import time
from pathlib import Path

import pytest
from django.db import connections
from django_tenants.utils import tenant_context

from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024
CHUNK = 64 * 1024  # what the client sends at a time
# What uvicorn hands the app in one message: what it has buffered, at most
# its 64 KiB high-water mark plus one socket read (256 kB under uvloop).
ONE_MESSAGE = 64 * 1024 + 256_000
# Bytes the client may get into the pipe past what the server read: its own
# send buffer (kept small below) and the server's receive buffer on loopback.
SOCKET_BUFFERS = 4 * MiB


class Served:
    def __init__(self, server, tmpdir: Path, log: Path):
        self.server, self.tmpdir, self.log = server, tmpdir, log

    def spooling(self) -> list[str]:
        """Files the server process holds open in its temporary directory
        (a spooled body: Python's temporary files have no name to list)."""
        fds = Path(f"/proc/{self.server.process.pid}/fd")
        found = []
        for fd in fds.iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if target.startswith(str(self.tmpdir)):
                found.append(target)
        return found


@pytest.fixture
def served(world, tmp_path):
    tmpdir = tmp_path / "server-tmp"
    tmpdir.mkdir()
    log = tmp_path / "server.log"
    with log.open("w") as output, uvicorn_server(extra_env={"TMPDIR": str(tmpdir)}, output=output) as server:
        yield Served(server, tmpdir, log)
    connections.close_all()


class Answer:
    def __init__(self, raw: bytes, sent: int, spooled: list[str], closed: bool):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines[0] else None
        self.headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        self.sent, self.spooled, self.closed = sent, spooled, closed

    def json(self) -> dict:
        return json.loads(self.body)


def post(
    served: Served,
    path: str,
    *,
    size: int,
    declared: int | None = None,
    host: str = "acme.localhost",
    content_type: str = "application/json",
    see_close: bool = False,
) -> Answer:
    """POST `size` body bytes to `path`, chunked (or with `Content-Length:
    declared`), a chunk at a time, stopping as soon as an answer arrives or
    the server stops taking bytes. Checks for a spooled body as it goes,
    and (`see_close`) whether the server closes the connection after its
    answer."""
    sock = socket.create_connection(("127.0.0.1", served.server.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, CHUNK)
    framing = "Transfer-Encoding: chunked" if declared is None else f"Content-Length: {declared}"
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n".encode())
    sock.setblocking(False)
    sent, spooled, pending = 0, set(), b""
    deadline = time.monotonic() + 60
    while sent < size or pending:
        readable, writable, _ = select.select([sock], [sock], [], 1)
        if readable:
            break  # the server answered (or hung up) before the body was sent
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer after sending {sent} bytes")
        if sent % MiB < CHUNK:
            spooled.update(served.spooling())
        if not writable:
            continue
        if not pending:
            n = min(CHUNK, size - sent)
            piece = b"x" * n
            pending = piece if declared is not None else b"%x\r\n%s\r\n" % (n, piece)
            sent += n
            if declared is None and sent == size:
                pending += b"0\r\n\r\n"
        try:
            pending = pending[sock.send(pending) :]
        except (BrokenPipeError, ConnectionResetError):
            break
    spooled.update(served.spooling())
    sock.setblocking(True)
    sock.settimeout(10)
    raw, closed = b"", False
    try:
        while not complete(raw) and (chunk := sock.recv(65536)):
            raw += chunk
        if see_close:
            closed = sock.recv(1) == b""  # the server hangs up after the answer (or keeps it open: timeout)
    except ConnectionResetError:
        closed = True  # reset with unread bytes of ours in the server's buffer: closed all the same
    except TimeoutError:
        pass
    finally:
        sock.close()
    return Answer(raw, sent, sorted(spooled), closed)


def complete(raw: bytes) -> bool:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return len(body) >= int(length)


def bytes_read(served: Served) -> list[int]:
    """What the edge logged it read of each refused body."""
    return [
        int(line.rsplit(" after reading ", 1)[1].split()[0])
        for line in served.log.read_text().splitlines()
        if "after reading" in line
    ]


def test_a_chunked_body_far_over_the_limit_is_refused_after_reading_at_most_the_limit(served, world):
    from orders.integrations.services import integration_create

    with tenant_context(world.acme.tenant):
        integration, _secret = integration_create(name="shop")
    answer = post(served, f"/api/integrations/{integration.pk}/webhook", size=50 * MiB, see_close=True)

    assert answer.status == 413 and answer.json()["error"]["code"] == "too_large"
    assert answer.closed  # the rest of the body is never read
    limit = 1 * MiB  # WEBHOOK_MAX_BODY_BYTES
    assert answer.sent < limit + ONE_MESSAGE + SOCKET_BUFFERS, f"the server took {answer.sent / MiB:.0f} MiB"
    [read] = bytes_read(served)
    assert limit < read <= limit + ONE_MESSAGE  # the edge stopped at the message that passed the limit
    assert answer.spooled == [] and list(served.tmpdir.iterdir()) == []  # nothing written to disk


def test_an_anonymous_large_post_to_the_api_is_413_not_401_after_reading_it(served):
    answer = post(served, "/api/tokens", size=100 * MiB, declared=100 * MiB, see_close=True)

    assert answer.status == 413, answer.status
    assert answer.json() == {
        "error": {"code": "too_large", "message": "bodies are limited to 65536 bytes", "fields": {}}
    }
    assert answer.closed
    assert answer.sent < SOCKET_BUFFERS
    assert bytes_read(served) == [0]  # refused on its Content-Length alone
    assert answer.spooled == [] and list(served.tmpdir.iterdir()) == []


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_each_route_has_its_limit(served, chunked):
    def status(path: str, size: int, **kwargs) -> int:
        return post(served, path, size=size, declared=None if chunked else size, **kwargs).status

    api, form, other = 65536, 1 * MiB, 16384  # API_, FORM_, DEFAULT_MAX_BODY_BYTES
    # At its limit a body reaches Django (which says: not signed in, or no CSRF token).
    assert status("/api/tokens", api) == 401
    assert status("/api/tokens", api + 1) == 413
    assert status("/accounts/login/", form, content_type="application/x-www-form-urlencoded") == 403
    assert status("/accounts/login/", form + 1, content_type="application/x-www-form-urlencoded") == 413
    assert status("/admin/login/", form + 1, content_type="application/x-www-form-urlencoded") == 413
    assert status("/stores/", other) == 403
    assert status("/stores/", other + 1) == 413
    assert status("/api/notifications/read", api + 1, host="globex.localhost") == 413
