"""Socket tickets: single use, short-lived, bound to tenant and user."""

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from platform_core.access import Credential
from platform_core.models import WsTicket
from platform_core.tokens import api_token_create, ws_ticket_issue
from tests.factories import login_cookie
from ws import close_codes

pytestmark = pytest.mark.django_db(transaction=True)


def issue(cast, who="customer"):
    """A ticket as an app asks for one: with its API token."""
    with tenant_context(cast.tenant):
        user = getattr(cast, who)
        token, _ = api_token_create(user=user, name="app")
        return ws_ticket_issue(user=user, credential=Credential(token_id=token.pk))


aissue = sync_to_async(issue)


async def test_a_ticket_opens_a_socket_without_cookie_or_origin_once(open_socket, world):
    ticket = await aissue(world.acme)
    socket = await open_socket(f"/ws/notifications/?ticket={ticket}", origin=None)
    assert (await socket.receive())["type"] == "notifications.unread"
    reused = await open_socket(f"/ws/notifications/?ticket={ticket}", origin=None)
    assert await reused.closed_with() == close_codes.NOT_SIGNED_IN


async def test_a_ticket_works_on_the_store_stream_for_staff(open_socket, world):
    ticket = await aissue(world.acme, "staff1")
    socket = await open_socket(f"/ws/stores/1/orders/?ticket={ticket}", origin=None)
    frame = await socket.receive()
    assert frame["type"] in ("presence", "stream.live")


async def test_an_expired_ticket_is_refused(open_socket, world):
    ticket = await aissue(world.acme)

    def expire():
        with tenant_context(world.acme.tenant):
            WsTicket.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    await sync_to_async(expire)()
    socket = await open_socket(f"/ws/notifications/?ticket={ticket}", origin=None)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


async def test_a_ticket_of_one_tenant_is_nobody_on_another(open_socket, world):
    ticket = await aissue(world.acme)  # globex's customer has the same user id
    socket = await open_socket(f"/ws/notifications/?ticket={ticket}", host="globex.localhost", origin=None)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN
    # and it was not spent there: it still works on its own tenant
    ok = await open_socket(f"/ws/notifications/?ticket={ticket}", origin=None)
    assert (await ok.receive())["type"] == "notifications.unread"


async def test_a_bad_ticket_is_not_rescued_by_a_valid_cookie(open_socket, world):
    cookie = await login_cookie(world.acme.tenant, world.acme.customer)
    socket = await open_socket("/ws/notifications/?ticket=forged", cookie=cookie)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


async def test_a_ticket_with_a_foreign_origin_is_refused(open_socket, world):
    ticket = await aissue(world.acme)
    socket = await open_socket(f"/ws/notifications/?ticket={ticket}", origin="https://evil.example.com")
    assert await socket.closed_with() == close_codes.FORBIDDEN


@pytest.mark.parametrize("ticket", ["x" * 500, "%00", "a b", "pgn_abc_def"])
async def test_garbage_tickets_are_refused(open_socket, world, ticket):
    socket = await open_socket(f"/ws/notifications/?ticket={ticket}", origin=None)
    assert await socket.closed_with() == close_codes.NOT_SIGNED_IN


def test_tickets_are_issued_over_the_api_with_a_session_or_a_token(world):
    client = Client(HTTP_HOST="acme.localhost")
    assert client.post("/api/ws-tickets").status_code == 401
    with tenant_context(world.acme.tenant):
        client.force_login(world.acme.customer)
        _, token = api_token_create(user=world.acme.customer, name="app")
    response = client.post("/api/ws-tickets")
    assert response.status_code == 201 and response.json()["expires_in"] == 30 and response.json()["ticket"]
    bearer = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert bearer.post("/api/ws-tickets").status_code == 201
    with tenant_context(world.acme.tenant):
        assert WsTicket.objects.count() == 2
        assert not WsTicket.objects.filter(digest=response.json()["ticket"]).exists(), "only a digest is stored"


def test_users_manage_their_own_api_tokens(world):
    client = Client(HTTP_HOST="acme.localhost")
    with tenant_context(world.acme.tenant):
        client.force_login(world.acme.staff1)
    created = client.post("/api/tokens", data=json.dumps({"name": "pos"}), content_type="application/json")
    assert created.status_code == 201 and created.json()["token"].startswith("pgn_")
    listed = client.get("/api/tokens").json()["results"]
    assert [t["name"] for t in listed] == ["pos"] and "token" not in listed[0]
    bearer = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {created.json()['token']}")
    assert bearer.get("/api/orders").status_code == 200
    assert client.delete(f"/api/tokens/{created.json()['id']}").status_code == 200
    assert bearer.get("/api/orders").status_code == 401
    other = Client(HTTP_HOST="acme.localhost")
    with tenant_context(world.acme.tenant):
        other.force_login(world.acme.staff2)
    assert other.delete(f"/api/tokens/{created.json()['id']}").status_code == 404
    assert client.post("/api/tokens", data=json.dumps({"name": ""}), content_type="application/json").status_code == 422
