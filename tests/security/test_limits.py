"""Limits with clear answers: each one reached, answered, and not shared
across tenants (colliding ids), with nothing written past it."""

import json
import time

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tests.clock import clear_of_window_edge
from tests.factories import PASSWORD, login_cookie
from tests.orders.webhook_client import payload, post, send, sign


# --- messages per socket ------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_flooding_socket_hears_rate_limited_once_and_stays_open(world, open_socket, settings):
    settings.WS_MESSAGES_PER_SECOND, settings.WS_MESSAGE_BURST = 5, 5
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(world.acme.tenant, world.acme.customer))
    assert (await socket.receive())["type"] == "notifications.unread"

    for _ in range(12):
        await socket.send({"type": "ping"})
    frames = []
    while (frame := await socket.next_or_none()) is not None:
        frames.append(frame)
    assert [f["type"] for f in frames].count("pong") == 5  # the burst; the other 7 were dropped
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["rate_limited"]  # said once, not seven times
    assert "5 messages per second" in errors[0]["detail"]

    time.sleep(0.5)  # tokens refill: the socket is usable again
    await socket.send({"type": "ping"})
    assert (await socket.receive())["type"] == "pong"


@pytest.mark.django_db(transaction=True)
async def test_a_dropped_message_changes_nothing(world, open_socket, settings):
    from asgiref.sync import sync_to_async

    from alerts.models import Notification
    from alerts.services import notification_create

    def notify():
        with tenant_context(world.acme.tenant):
            return notification_create(recipient=world.acme.customer, kind="system", title="hello").pk

    def unread():
        with tenant_context(world.acme.tenant):
            return Notification.objects.filter(read_at__isnull=True).count()

    notification_id = await sync_to_async(notify)()
    settings.WS_MESSAGES_PER_SECOND, settings.WS_MESSAGE_BURST = 1, 2
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(world.acme.tenant, world.acme.customer))
    await socket.receive()
    await socket.send({"type": "ping"})
    await socket.send({"type": "ping"})
    await socket.send({"type": "notifications.mark_read", "ids": [notification_id]})  # over the limit
    frames = [await socket.receive() for _ in range(3)]
    assert [f["type"] for f in frames] == ["pong", "pong", "error"] and frames[2]["code"] == "rate_limited"
    assert await sync_to_async(unread)() == 1


# --- sockets per user ---------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_sockets_per_user_are_limited_per_tenant_user(world, open_socket, settings):
    settings.SOCKETS_PER_USER = 2
    acme_customer = await login_cookie(world.acme.tenant, world.acme.customer)
    first = await open_socket("/ws/notifications/", cookie=acme_customer)
    await first.receive()
    second = await open_socket("/ws/stores/1/orders/", cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    assert (await second.receive())["type"] in {"presence", "stream.live"}
    await (await open_socket("/ws/notifications/", cookie=acme_customer)).receive()

    third = await open_socket("/ws/notifications/", cookie=acme_customer)
    assert await third.closed_with() == 4429  # too many sockets: try again later

    # globex's customer has the same user id, and a budget of its own.
    twin_cookie = await login_cookie(world.globex.tenant, world.globex.customer)
    twin = await open_socket("/ws/notifications/", host="globex.localhost", cookie=twin_cookie)
    assert (await twin.receive())["type"] == "notifications.unread"

    await first.communicator.disconnect()  # one closes: room for another
    fourth = await open_socket("/ws/notifications/", cookie=acme_customer)
    assert (await fourth.receive())["type"] == "notifications.unread"


# --- requests per integration -------------------------------------------------------------
@pytest.fixture
def integrations(world):
    from orders.integrations.services import integration_create

    made = {}
    for name in ("acme", "globex"):
        with tenant_context(getattr(world, name).tenant):
            made[name] = integration_create(name="shop")  # id 1 in both tenants
    assert made["acme"][0].pk == made["globex"][0].pk
    return made


def order_count(tenant) -> int:
    from orders.models import Order

    with tenant_context(tenant):
        return Order.objects.count()


@pytest.mark.django_db(transaction=True)
def test_webhooks_per_integration_are_limited_with_retry_after(world, integrations, settings):
    settings.WEBHOOK_REQUESTS_PER_MINUTE = 3
    clear_of_window_edge(60)
    integration, secret = integrations["acme"]
    for n in range(3):
        assert send(integration.pk, secret, payload(external_id=f"A-{n}", total="1")).status_code == 200

    refused = send(integration.pk, secret, payload(external_id="A-over", total="1"))
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert order_count(world.acme.tenant) == 3  # the fourth wrote nothing

    # The same integration id on globex has its own budget.
    integration, secret = integrations["globex"]
    assert (
        send(integration.pk, secret, payload(external_id="G-1", total="1"), host="globex.localhost").status_code == 200
    )


ATTACKER, INTEGRATOR = "203.0.113.66", "198.51.100.7"


def forged(integration_id: int, n: int, *, host: str = "acme.localhost", address: str = ATTACKER):
    """An unsigned guess at a sequential integration id: signed with a made-up secret."""
    body = json.dumps(payload(external_id=f"FORGED-{n}", total="1"))
    return post(integration_id, body, sign("whsec_" + "A" * 32, body), host=host, address=address)


@pytest.fixture
def verifications(monkeypatch) -> list[int]:
    """One entry per signature check the webhook runs (HMAC work)."""
    from orders.integrations import webhooks

    calls, verify = [], webhooks.verify

    def counting_verify(**kwargs):
        calls.append(1)
        return verify(**kwargs)

    monkeypatch.setattr(webhooks, "verify", counting_verify)
    return calls


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_unsigned_requests_does_not_lock_the_integrator_out(world, integrations, settings, verifications):
    settings.WEBHOOK_REQUESTS_PER_MINUTE, settings.WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE = 5, 20
    clear_of_window_edge(60, margin=20)  # a thousand requests take a few seconds
    integration, secret = integrations["acme"]

    answers = [forged(integration.pk, n) for n in range(1000)]

    assert [a.status_code for a in answers[:20]] == [401] * 20
    assert {a.status_code for a in answers[20:]} == {429}
    assert answers[-1].json()["error"]["code"] == "rate_limited" and 1 <= int(answers[-1]["Retry-After"]) <= 60
    assert len(verifications) == 20, "an address over its limit is refused before any HMAC work"

    # The integrator, from its own address, still has its whole budget...
    for n in range(5):
        response = send(integration.pk, secret, payload(external_id=f"REAL-{n}", total="1"), address=INTEGRATOR)
        assert response.status_code == 200, response.content
    assert order_count(world.acme.tenant) == 5
    # ...and verified requests over it are refused.
    over = send(integration.pk, secret, payload(external_id="REAL-over", total="1"), address=INTEGRATOR)
    assert over.status_code == 429 and int(over["Retry-After"]) >= 1
    assert order_count(world.acme.tenant) == 5


@pytest.mark.django_db(transaction=True)
def test_globex_integration_1_is_not_affected_by_a_flood_of_acme_s(world, integrations, settings):
    settings.WEBHOOK_REQUESTS_PER_MINUTE, settings.WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE = 3, 10
    clear_of_window_edge(60)
    acme_integration, _ = integrations["acme"]
    for n in range(50):
        forged(acme_integration.pk, n)
    assert forged(acme_integration.pk, 50).status_code == 429

    integration, secret = integrations["globex"]  # the same id on another tenant
    assert forged(integration.pk, 0, host="globex.localhost").status_code == 401  # its own count, even from there
    for n in range(3):
        response = send(integration.pk, secret, payload(external_id=f"G-{n}", total="1"), host="globex.localhost")
        assert response.status_code == 200
    assert order_count(world.globex.tenant) == 3


@pytest.mark.django_db(transaction=True)
def test_probing_integration_ids_counts_as_unverified(world, integrations, settings, verifications):
    settings.WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE = 4
    clear_of_window_edge(60)
    integration, secret = integrations["acme"]
    assert [forged(integration_id, 0).status_code for integration_id in (7, 8, 9)] == [404] * 3
    settings.WEBHOOK_MAX_BODY_BYTES = 100
    assert forged(integration.pk, 0).status_code == 413  # too large to read: not verified either
    settings.WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
    assert forged(integration.pk, 1).status_code == 429
    assert forged(7, 1).status_code == 429
    assert verifications == []
    assert send(integration.pk, secret, payload(total="1"), address=INTEGRATOR).status_code == 200  # that address only


# --- sign-in attempts ------------------------------------------------------------------------
def sign_in(host: str, username: str, password: str, address: str = "10.0.0.1"):
    return Client(HTTP_HOST=host, REMOTE_ADDR=address).post(
        "/accounts/login/", {"username": username, "password": password}
    )


@pytest.mark.django_db
def test_failed_sign_ins_are_limited_per_username_even_with_the_right_password(world, settings):
    settings.LOGIN_FAILURES_PER_USERNAME, settings.LOGIN_WINDOW_SECONDS = 3, 3600
    clear_of_window_edge(3600)
    for _ in range(3):
        assert sign_in("acme.localhost", "staff1", "wrong").status_code == 200  # the form, with an error

    locked = sign_in("acme.localhost", "staff1", PASSWORD)
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert b"Too many failed sign-ins" in locked.content
    assert sign_in("acme.localhost", "staff1", PASSWORD, address="10.9.9.9").status_code == 429  # any address

    assert sign_in("acme.localhost", "staff2", PASSWORD).status_code == 302  # another name
    assert sign_in("globex.localhost", "staff1", PASSWORD).status_code == 302  # same name, other tenant


@pytest.mark.django_db
def test_a_success_is_no_failure_and_erases_none(world, settings):
    """A success takes back its own attempt, not the failures before it:
    they might be someone else's, made while the owner signed in
    (tests/platform_core/test_sign_in.py races them)."""
    settings.LOGIN_FAILURES_PER_USERNAME, settings.LOGIN_WINDOW_SECONDS = 3, 3600
    clear_of_window_edge(3600)
    sign_in("acme.localhost", "staff1", "wrong")
    sign_in("acme.localhost", "staff1", "wrong")
    assert sign_in("acme.localhost", "staff1", PASSWORD).status_code == 302
    assert sign_in("acme.localhost", "staff1", PASSWORD).status_code == 302  # successes cost nothing
    assert sign_in("acme.localhost", "staff1", "wrong").status_code == 200  # the third failure
    assert sign_in("acme.localhost", "staff1", PASSWORD).status_code == 429


@pytest.mark.django_db
def test_failed_sign_ins_are_limited_per_address(world, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS, settings.LOGIN_WINDOW_SECONDS = 4, 3600
    clear_of_window_edge(3600)
    for name in ("a", "b", "c", "d"):  # a password spray: a new name each time
        assert sign_in("acme.localhost", name, "wrong", address="10.6.6.6").status_code == 200
    assert sign_in("acme.localhost", "staff1", PASSWORD, address="10.6.6.6").status_code == 429
    assert sign_in("acme.localhost", "staff1", PASSWORD, address="10.7.7.7").status_code == 302


@pytest.mark.django_db
def test_the_admin_sign_in_shares_the_limits(world, settings):
    settings.LOGIN_FAILURES_PER_USERNAME, settings.LOGIN_WINDOW_SECONDS = 3, 3600
    clear_of_window_edge(3600)
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="10.0.0.2")
    for _ in range(2):
        assert client.post("/admin/login/", {"username": "admin", "password": "wrong"}).status_code == 200
    assert sign_in("acme.localhost", "admin", "wrong").status_code == 200  # the third, on the product's page
    locked = client.post("/admin/login/", {"username": "admin", "password": PASSWORD})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    assert Client(HTTP_HOST="acme.localhost").get("/admin/login/").status_code == 200  # the page itself still shows


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["a\x00b", "x" * 10_000, "é ñ 漢", ""])
def test_any_typed_username_is_counted_without_a_500(world, username, settings):
    settings.LOGIN_FAILURES_PER_USERNAME = 2
    clear_of_window_edge(settings.LOGIN_WINDOW_SECONDS)
    for _ in range(2):
        assert sign_in("acme.localhost", username, "wrong").status_code == 200
    assert sign_in("acme.localhost", username, "wrong").status_code == 429
