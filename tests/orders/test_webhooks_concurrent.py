"""Webhooks with real concurrency and real sockets."""

import json
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django_tenants.utils import tenant_context

from orders.integrations import services
from orders.integrations.services import integration_create
from orders.models import Order, StoreEvent, WebhookDelivery
from tests.factories import login_cookie
from tests.orders.webhook_client import payload, post, send, sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def integration(world):
    with tenant_context(world.acme.tenant):
        return integration_create(name="shop")


def test_two_copies_of_one_delivery_at_the_same_moment_apply_once(world, integration):
    integ, secret = integration
    body = json.dumps(payload(total="9.90"))
    headers = sign(secret, body)
    start = threading.Barrier(4)
    answers = []

    def deliver():
        start.wait()
        try:
            response = post(integ.pk, body, headers)
            answers.append((response.status_code, response.json()["status"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answers) == [(200, "duplicate")] * 3 + [(200, "processed")]
    with tenant_context(world.acme.tenant):
        assert Order.objects.count() == 1
        assert StoreEvent.objects.count() == 1
        assert WebhookDelivery.objects.filter(accepted=True).count() == 1


def test_one_webhook_id_with_two_bodies_at_the_same_moment_applies_one_and_refuses_the_other(
    world, integration, monkeypatch
):
    integ, secret = integration
    apply = services.webhook_apply

    def slow_apply(**kwargs):
        time.sleep(0.3)  # the winner's transaction stays open: the others wait on the unique index
        return apply(**kwargs)

    monkeypatch.setattr(services, "webhook_apply", slow_apply)
    bodies = [json.dumps(payload(total=total)) for total in ("1.00", "2.00")]
    # Each body twice: the winner's copy is a duplicate, the loser's copies are conflicts.
    deliveries = [(body, sign(secret, body, msg_id="msg_contested")) for body in bodies for _ in range(2)]
    start = threading.Barrier(len(deliveries))
    answers = []

    def deliver(body, headers):
        start.wait()
        try:
            response = post(integ.pk, body, headers)
            outcome = response.json().get("status") or response.json()["error"]["code"]
            answers.append((response.status_code, outcome, body))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=delivery) for delivery in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(a[:2] for a in answers) == [
        (200, "duplicate"),
        (200, "processed"),
        (409, "conflict"),
        (409, "conflict"),
    ]
    [winner] = [body for status, outcome, body in answers if outcome == "processed"]
    assert {body for status, _, body in answers if status == 200} == {winner}
    with tenant_context(world.acme.tenant):
        assert str(Order.objects.get().total) == json.loads(winner)["data"]["total"]
        assert StoreEvent.objects.count() == 1
        assert WebhookDelivery.objects.filter(accepted=True).count() == 1


def test_concurrent_deliveries_creating_the_same_new_order_make_one_order(world, integration):
    integ, secret = integration
    start = threading.Barrier(4)
    codes = []

    def deliver(n):
        start.wait()
        try:
            codes.append(send(integ.pk, secret, payload(total=f"{n}.00")).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [200] * 4
    with tenant_context(world.acme.tenant):
        assert Order.objects.count() == 1
        assert list(StoreEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4]


async def test_a_webhook_order_appears_live_on_staff1s_dashboard_and_not_on_globex(open_socket, world, integration):
    integ, secret = integration
    acme = await open_socket("/ws/stores/1/orders/", cookie=await login_cookie(world.acme.tenant, world.acme.staff1))
    globex = await open_socket(
        "/ws/stores/1/orders/",
        host="globex.localhost",
        cookie=await login_cookie(world.globex.tenant, world.globex.staff1),
    )
    for socket in (acme, globex):
        while (await socket.receive())["type"] != "stream.live":
            pass

    def deliver():
        try:
            return send(integ.pk, secret, payload(total="18.50", external_id="WEB-42"))
        finally:
            connections.close_all()

    # A request handled on another thread, as under ASGI.
    response = await sync_to_async(deliver, thread_sensitive=False)()
    assert response.status_code == 200
    frame = await acme.receive()
    while frame["type"] == "presence":
        frame = await acme.receive()
    assert frame["type"] == "order.created" and frame["data"]["order"]["external_id"] == "WEB-42"
    while (extra := await globex.next_or_none()) is not None:
        assert extra["type"] in ("presence", "heartbeat")
