"""The tenant-aware front door: Host, Origin and session, on the full ASGI app."""

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from tests.factories import login_cookie
from ws import close_codes

pytestmark = pytest.mark.django_db(transaction=True)


async def test_signed_in_user_gets_the_unread_frame(open_socket, acme, customer):
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme, customer))
    frame = await socket.receive()
    assert frame["type"] == "notifications.unread"


async def test_anonymous_socket_is_closed_with_4401(open_socket, acme):
    socket = await open_socket("/ws/notifications/")
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


async def test_garbage_session_cookie_is_anonymous(open_socket, acme):
    socket = await open_socket("/ws/notifications/", cookie="sessionid=not-a-session-key")
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


async def test_cookie_of_one_tenant_means_nothing_on_another(open_socket, acme, globex, customer, globex_twin):
    socket = await open_socket("/ws/notifications/", host="globex.localhost", cookie=await login_cookie(acme, customer))
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


@pytest.mark.parametrize("host", ["nope.localhost", "localhost", "evil.example.com", "", "acme.localhost:abc"])
async def test_unknown_or_public_or_disallowed_host_is_closed_with_4404(open_socket, acme, customer, host):
    socket = await open_socket("/ws/notifications/", host=host, origin="http://acme.localhost")
    assert await socket.closed_with() == close_codes.NOT_FOUND


@pytest.mark.parametrize(
    "origin", ["http://globex.localhost", "https://evil.example.com", "http://acme.localhost.evil.com", "null", None]
)
async def test_foreign_or_missing_origin_is_closed_with_4403(open_socket, acme, customer, origin):
    socket = await open_socket("/ws/notifications/", origin=origin, cookie=await login_cookie(acme, customer))
    assert await socket.closed_with() == close_codes.FORBIDDEN


async def test_host_with_port_must_match_origin_with_port(open_socket, acme, customer):
    cookie = await login_cookie(acme, customer)
    ok = await open_socket("/ws/notifications/", host="acme.localhost:8000", cookie=cookie)
    assert (await ok.receive())["type"] == "notifications.unread"
    wrong_port = await open_socket(
        "/ws/notifications/", host="acme.localhost:8000", origin="http://acme.localhost:9999", cookie=cookie
    )
    assert await wrong_port.closed_with() == close_codes.FORBIDDEN


async def test_unknown_socket_path_is_closed_with_4404(open_socket, acme, customer):
    socket = await open_socket("/ws/nothing-here/", cookie=await login_cookie(acme, customer))
    assert await socket.closed_with() == close_codes.NOT_FOUND


async def test_inactive_user_is_not_signed_in(open_socket, acme, customer):
    cookie = await login_cookie(acme, customer)

    def deactivate():
        with tenant_context(acme):
            customer.is_active = False
            customer.save()

    await sync_to_async(deactivate)()
    socket = await open_socket("/ws/notifications/", cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


# --- one host rule for HTTP and sockets; the Origin is exactly the served origin -------
@pytest.mark.parametrize(
    "origin",
    [
        "https://acme.localhost",
        "file://acme.localhost",
        "ws://acme.localhost",
        "http://ACME.localhost",
        "http://acme.localhost.",
        "http://acme.localhost/",
    ],
)
async def test_an_origin_of_another_scheme_or_spelling_is_closed_with_4403(open_socket, acme, customer, origin):
    socket = await open_socket("/ws/notifications/", origin=origin, cookie=await login_cookie(acme, customer))
    assert await socket.closed_with() == close_codes.FORBIDDEN


async def test_a_secure_socket_takes_the_https_origin_only(acme, customer):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    cookie = await login_cookie(acme, customer)
    outcomes = {}
    for origin in ("https://acme.localhost", "http://acme.localhost"):
        headers = [(b"host", b"acme.localhost"), (b"origin", origin.encode()), (b"cookie", cookie.encode())]
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        communicator.scope["scheme"] = "wss"  # as uvicorn sets it behind a TLS proxy (X-Forwarded-Proto)
        await communicator.connect()
        first = await communicator.receive_output(timeout=2)
        outcomes[origin] = first.get("code") if first["type"] == "websocket.close" else "open"
        await communicator.disconnect()
    assert outcomes == {"https://acme.localhost": "open", "http://acme.localhost": close_codes.FORBIDDEN}


@pytest.mark.parametrize(
    "host, served",
    [
        ("acme.localhost", True),
        ("acme.localhost:8000", True),
        ("www.acme.localhost", True),  # django-tenants drops a leading "www." over HTTP: sockets agree
        ("ACME.localhost", False),
        ("Acme.Localhost", False),
        ("acme.localhost.", False),
        ("acme.localhost.:8000", False),
    ],
)
async def test_http_and_sockets_serve_exactly_the_same_hosts(open_socket, acme, customer, host, served):
    from django.test import Client

    cookie = await login_cookie(acme, customer)
    http_status = await sync_to_async(
        lambda: Client(HTTP_HOST=host, HTTP_COOKIE=cookie).get("/api/notifications").status_code
    )()
    socket = await open_socket("/ws/notifications/", host=host, origin=f"http://{host}", cookie=cookie)
    first = await socket.communicator.receive_output(timeout=2)
    socket_outcome = first.get("code") if first["type"] == "websocket.close" else "open"
    assert (http_status, socket_outcome) == ((200, "open") if served else (404, close_codes.NOT_FOUND))


async def test_two_host_headers_are_refused(acme, customer):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    cookie = await login_cookie(acme, customer)
    headers = [
        (b"host", b"acme.localhost"),
        (b"host", b"globex.localhost"),
        (b"origin", b"http://acme.localhost"),
        (b"cookie", cookie.encode()),
    ]
    communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    await communicator.connect()
    assert (await communicator.receive_output(timeout=2)).get("code") == close_codes.NOT_FOUND
    await communicator.disconnect()


def raw_exchange(port: int, request: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_two_host_headers_are_refused_over_http_by_the_real_server(product_server):
    """Django joins repeated headers with a comma, which names no tenant: 404,
    as a socket gets 4404. Neither host is served."""
    ok = raw_exchange(
        product_server.port, b"GET /api/notifications HTTP/1.1\r\nHost: acme.localhost\r\nConnection: close\r\n\r\n"
    )
    assert ok.startswith(b"HTTP/1.1 401")  # the host is served (and asks for a sign-in)
    twice = raw_exchange(
        product_server.port,
        b"GET /api/notifications HTTP/1.1\r\nHost: acme.localhost\r\n"
        b"Host: globex.localhost\r\nConnection: close\r\n\r\n",
    )
    assert twice.split(b"\r\n", 1)[0] == b"HTTP/1.1 404 Not Found"
