"""A handshake the server refuses before it reaches the product (headers
over uvicorn's 8 KB) is answered at once, under the Procfile's protocol
(config/websocket_protocol.py), and the server goes on serving."""

import base64
import os
import socket

import pytest

from tests.servers import uvicorn_server

pytestmark = pytest.mark.django_db(transaction=True)


def handshake(port: int, cookie: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        "GET /ws/notifications/ HTTP/1.1\r\n"
        f"Host: acme.localhost:{port}\r\n"
        f"Origin: http://acme.localhost:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: {cookie}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(4096)  # times out (a failure) if nothing comes
            if not chunk:
                break
            answer += chunk
    return answer


def test_a_handshake_with_headers_over_the_limit_gets_431_at_once_and_the_next_is_served(world):
    with uvicorn_server() as server:
        # A browser with many cookies for the domain: uvicorn 0.54 left this
        # client waiting for ever (an outside test waited 90 s).
        refused = handshake(server.port, "sessionid=" + "x" * 8_300)
        assert refused.startswith(b"HTTP/1.1 431"), refused[:80]
        accepted = handshake(server.port, "sessionid=nobody")
        assert accepted.startswith(b"HTTP/1.1 101"), accepted[:80]
