"""The tenant-aware front door: Host, Origin and session, on the full ASGI app."""

import pytest
from asgiref.sync import sync_to_async
from django_tenants.utils import tenant_context

from tests.conftest import login_cookie
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
    socket = await open_socket(
        "/ws/notifications/", host="globex.localhost", cookie=await login_cookie(acme, customer)
    )
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
