"""What the store board reads and writes beyond the basics: the customer's
name as the shop sent it, a cancellation's reason (stored, streamed, told to
the customer), comments loaded with the board, and the store's settings.
Every case is checked against the other tenant's rows with the same ids."""

import json

import pytest
from django.db import connection, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from alerts.models import Notification
from orders.integrations.services import integration_create
from orders.models import Order, StoreEvent
from orders.services import MAX_CANCEL_REASON
from stores.models import Store
from tests.factories import add_comment, change_status, create_order
from tests.orders.webhook_client import payload, send

pytestmark = pytest.mark.django_db


def client_for(cast, who) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    with tenant_context(cast.tenant):
        client.force_login(getattr(cast, who))
    return client


def post_json(client, path, body):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, content_type="application/json")


@pytest.fixture
def twins(world):
    """One order id of store 1 in both tenants, each with its tenant's customer.
    Both tenants' order sequences are set to the same next value: earlier
    tests may have used more ids in one tenant than in the other."""
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant), connection.cursor() as cursor:
            cursor.execute("SELECT setval(pg_get_serial_sequence('orders_order', 'id'), 500, false)")
    return {
        "acme": create_order(world.acme.tenant, external_id="A-1", customer=world.acme.customer),
        "globex": create_order(world.globex.tenant, external_id="G-1", customer=world.globex.customer),
    }


def written(cast):
    """Everything a status change may write, to prove that nothing was."""
    with tenant_context(cast.tenant):
        return (
            list(Order.objects.order_by("id").values_list("id", "status", "cancel_reason")),
            StoreEvent.objects.count(),
            Notification.objects.count(),
        )


# --- cancel with a reason -------------------------------------------------------------------
def test_a_cancellation_reason_is_stored_streamed_and_told_to_the_customer(world, twins):
    assert twins["acme"].pk == twins["globex"].pk  # the same id in both tenants
    globex_before = written(world.globex)
    response = post_json(
        client_for(world.acme, "staff1"),
        f"/api/orders/{twins['acme'].pk}/status",
        {"status": "cancelled", "reason": "  Out of dough — sorry!  "},
    )
    assert response.status_code == 200, response.content
    assert response.json()["cancel_reason"] == "Out of dough — sorry!"
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().cancel_reason == "Out of dough — sorry!"
        frame = json.loads(StoreEvent.objects.order_by("seq").last().frame)
        assert frame["type"] == "order.status_changed"
        assert frame["data"]["order"]["cancel_reason"] == "Out of dough — sorry!"
        notification = Notification.objects.get(recipient=world.acme.customer)
        assert "Cancelled" in notification.title and notification.body == "Reason: Out of dough — sorry!"
    assert written(world.globex) == globex_before


def test_a_cancellation_without_a_reason_tells_the_customer_without_one(world, twins):
    response = post_json(
        client_for(world.acme, "staff1"), f"/api/orders/{twins['acme'].pk}/status", {"status": "cancelled"}
    )
    assert response.status_code == 200 and response.json()["cancel_reason"] == ""
    with tenant_context(world.acme.tenant):
        assert Notification.objects.get().body == ""


@pytest.mark.parametrize(
    "body",
    [
        {"status": "cancelled", "reason": 12},
        {"status": "cancelled", "reason": ["late"]},
        {"status": "cancelled", "reason": {"text": {"nested": "late"}}},
        {"status": "cancelled", "reason": "x" * (MAX_CANCEL_REASON + 1)},
        {"status": "accepted", "reason": "a reason is for cancelling only"},
        {"status": "cancelled", "reason": "fine", "extra": 1},
    ],
)
def test_a_bad_reason_is_a_clear_422_and_nothing_is_written(world, twins, body):
    before = written(world.acme)
    response = post_json(client_for(world.acme, "staff1"), f"/api/orders/{twins['acme'].pk}/status", body)
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) & {"reason", "extra"}
    assert written(world.acme) == before


@pytest.mark.parametrize("reason", ["nul \\u0000 inside", "lone \\ud800 surrogate"])
def test_a_reason_postgresql_cannot_store_is_refused_before_anything_is_written(world, twins, reason):
    before = written(world.acme)
    raw = '{"status": "cancelled", "reason": "' + reason + '"}'
    response = post_json(client_for(world.acme, "staff1"), f"/api/orders/{twins['acme'].pk}/status", raw)
    assert response.status_code in (400, 422) and response.json()["error"]["message"]
    assert written(world.acme) == before


def test_staff_of_another_store_cannot_cancel_with_a_reason(world, twins):
    before = written(world.acme)
    response = post_json(
        client_for(world.acme, "staff2"),
        f"/api/orders/{twins['acme'].pk}/status",
        {"status": "cancelled", "reason": "x"},
    )
    assert response.status_code in (403, 404)
    assert written(world.acme) == before


# --- the customer's name as sent ---------------------------------------------------------------
@pytest.fixture
def integration(world):
    with tenant_context(world.acme.tenant):
        created, secret = integration_create(name="shop")
    return created, secret


def test_the_name_the_shop_sent_is_what_the_board_shows(world, integration):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        world.acme.customer.email = "ana@example.com"
        world.acme.customer.save()  # an older account, named "customer", with no full name
    customer = {"email": "ana@example.com", "name": "Ana Díaz"}
    assert send(integ.pk, secret, payload(total="5", customer=customer)).status_code == 200
    with tenant_context(world.acme.tenant):
        order = Order.objects.get()
        assert order.customer_id == world.acme.customer.pk and order.customer_name == "Ana Díaz"
        frame = json.loads(StoreEvent.objects.get().frame)
        assert frame["data"]["order"]["customer"] == "customer"
        assert frame["data"]["order"]["customer_name"] == "Ana Díaz"
    listed = client_for(world.acme, "staff1").get("/api/stores/1/orders").json()["results"]
    assert [o["customer_name"] for o in listed] == ["Ana Díaz"]
    assert client_for(world.globex, "staff1").get("/api/stores/1/orders").json()["results"] == []

    # An update that names the customer again renames; one without a customer keeps it.
    send(integ.pk, secret, payload("order.updated", customer={"email": "ana@example.com", "name": "Ana M. Díaz"}))
    send(integ.pk, secret, payload("order.updated", notes="ring"))
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().customer_name == "Ana M. Díaz"


def test_a_name_sent_for_a_staff_address_still_names_the_order(world, integration):
    """No account is attached to a staff member's address, but the board
    still shows who ordered."""
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        world.acme.staff1.email = "staff1@acme.test"
        world.acme.staff1.save()
    send(integ.pk, secret, payload(total="5", customer={"email": "staff1@acme.test", "name": "Sam Staff"}))
    with tenant_context(world.acme.tenant):
        order = Order.objects.get()
        assert order.customer_id is None and order.customer_name == "Sam Staff"


@pytest.mark.parametrize("name", ["Ana\u0000", "x" * 151, {"first": "Ana"}])
def test_a_bad_customer_name_is_refused_and_nothing_is_written(world, integration, name):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        users = world.acme.customer.__class__.objects.count()
    response = send(integ.pk, secret, payload(total="5", customer={"email": "ana@example.com", "name": name}))
    assert response.status_code in (400, 422), response.content
    assert response.json()["error"]["message"]
    with tenant_context(world.acme.tenant):
        assert not Order.objects.exists()
        assert world.acme.customer.__class__.objects.count() == users


def test_a_customer_name_is_checked_before_an_account_is_made_with_it(world):
    """The service's own check (the webhook's parser refuses a NUL earlier;
    other callers of order_upsert rely on this one)."""
    from orders.integrations.services import order_upsert
    from platform_core.errors import ApplicationError

    with tenant_context(world.acme.tenant):
        users = world.acme.customer.__class__.objects.count()
        with pytest.raises(ApplicationError) as refused, transaction.atomic():
            order_upsert(
                store_id=1,
                external_id="X",
                fields={"total": "1", "customer": {"email": "new@example.com", "name": "Ana\x00"}},
            )
        assert "customer.name" in refused.value.fields
        assert world.acme.customer.__class__.objects.count() == users


def test_an_account_s_full_name_shows_when_the_shop_sent_none(world):
    with tenant_context(world.acme.tenant):
        world.acme.customer.first_name, world.acme.customer.last_name = "Ana", "Díaz"
        world.acme.customer.save()
    order = create_order(world.acme.tenant, customer=world.acme.customer)
    body = client_for(world.acme, "staff1").get(f"/api/orders/{order.pk}").json()
    assert body["customer"] == "customer" and body["customer_name"] == "Ana Díaz"


# --- comments with the board ----------------------------------------------------------------------
def test_the_store_list_carries_each_order_s_latest_comments(world, twins):
    for n in range(23):
        add_comment(world.acme.tenant, twins["acme"], world.acme.staff1, f"note {n}")
    add_comment(world.globex.tenant, twins["globex"], world.globex.staff1, "globex only")
    other = create_order(world.acme.tenant, external_id="A-2")
    listed = {
        o["external_id"]: o for o in client_for(world.acme, "staff1").get("/api/stores/1/orders").json()["results"]
    }
    said = [c["body"] for c in listed["A-1"]["comments"]]
    assert said == [f"note {n}" for n in range(3, 23)]  # the latest 20, oldest first
    assert listed["A-1"]["comments"][0]["author"] == "staff1"
    assert listed[other.external_id]["comments"] == []
    globex = client_for(world.globex, "staff1").get("/api/stores/1/orders").json()["results"]
    assert [c["body"] for c in globex[0]["comments"]] == ["globex only"]


def board_data(client, store_id=1) -> dict:
    response = client.get(f"/stores/{store_id}/")
    assert response.status_code == 200
    return response.context["board"]


def test_the_board_opens_with_comments_settings_and_every_open_order(world, twins):
    add_comment(world.acme.tenant, twins["acme"], world.acme.staff1, "acme says")
    add_comment(world.globex.tenant, twins["globex"], world.globex.staff1, "globex says")
    finished = create_order(world.acme.tenant, external_id="A-DONE")
    change_status(world.acme.tenant, finished, "cancelled")
    with tenant_context(world.acme.tenant):
        Store.objects.filter(pk=1).update(
            sound_enabled=False, sound_repeat_seconds=7, sla_warn_minutes=3, sla_late_minutes=4
        )
    acme = board_data(client_for(world.acme, "staff1"))
    globex = board_data(client_for(world.globex, "staff1"))
    assert [c["body"] for o in acme["orders"] if o["external_id"] == "A-1" for c in o["comments"]] == ["acme says"]
    assert [c["body"] for o in globex["orders"] for c in o["comments"]] == ["globex says"]
    assert {o["external_id"] for o in acme["orders"]} == {"A-1", "A-DONE"}
    assert acme["settings"] == {
        "sound_enabled": False,
        "sound_repeat_seconds": 7,
        "sla_warn_minutes": 3,
        "sla_late_minutes": 4,
    }
    assert globex["settings"]["sound_enabled"] is True and globex["settings"]["sla_warn_minutes"] == 5
    assert acme["text"]["actions"] == {
        "accepted": "Accept",
        "preparing": "Start",
        "ready": "Ready",
        "completed": "Complete",
        "cancelled": "Cancel",
    }


def test_the_store_list_counts_orders_waiting_in_each_of_my_stores(world, twins):
    create_order(world.acme.tenant, external_id="A-2")
    page = client_for(world.acme, "staff1").get("/stores/").content.decode()
    assert "2 new orders" in page
    page = client_for(world.globex, "staff1").get("/stores/").content.decode()
    assert "1 new order" in page and "2 new orders" not in page
