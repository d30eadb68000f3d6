"""The order page `/orders/<id>/` and what feeds it: who may open it, the
timeline and comments in GET /api/orders/<id>, the status history, and
`order.changed` — after commit only, to the order's customer only."""

import importlib
import json
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from orders.models import Order, OrderStatusChange
from orders.services import order_change_status, order_comment_add
from stores.models import StaffMembership
from tests.factories import add_comment, change_status, create_order, login_cookie, make_user
from ws import groups

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(cast, who=None) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    if who is not None:
        user = getattr(cast, who) if isinstance(who, str) else who
        with tenant_context(cast.tenant):
            client.force_login(user)
    return client


@pytest.fixture
def orders(world):
    """Order 1 in both tenants (ids restart per test): acme's is its
    customer's, in store 1; globex's has no customer. Order 2 exists only in
    globex."""
    acme = create_order(world.acme.tenant, external_id="A-1", customer=world.acme.customer, total="18.50")
    globex = create_order(world.globex.tenant, external_id="G-1")
    create_order(world.globex.tenant, external_id="G-2", customer=world.globex.customer)
    assert acme.pk == globex.pk == 1
    return acme


# --- who may open it ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "who,status,viewer",
    [
        ("customer", 200, "customer"),
        ("staff1", 200, "staff"),
        ("manager1", 200, "staff"),
        ("staff2", 404, None),  # staff of another store
        ("admin", 404, None),  # a tenant admin who is not staff of the store, as on the board
    ],
)
def test_the_customer_and_the_stores_staff_open_it_and_nobody_else(world, orders, who, status, viewer):
    response = client_for(world.acme, who).get("/orders/1/")
    assert response.status_code == status
    if viewer:
        page = response.context["page"]
        assert page["viewer"] == viewer and page["order"]["external_id"] == "A-1"
        assert page["store_name"] == "acme one"
        assert b"Order A-1" in response.content
    else:
        assert b"A-1" not in response.content  # not even a hint


def test_another_customer_of_the_tenant_gets_the_404_page(world, orders):
    other = make_user(world.acme.tenant, "other")
    response = client_for(world.acme, other).get("/orders/1/")
    assert response.status_code == 404 and b"A-1" not in response.content


def test_a_tenant_admin_who_is_staff_of_the_store_opens_it(world, orders):
    with tenant_context(world.acme.tenant):
        StaffMembership.objects.create(user=world.acme.admin, store=world.acme.store1)
    assert client_for(world.acme, "admin").get("/orders/1/").context["page"]["viewer"] == "staff"


def test_anonymous_is_sent_to_sign_in(world, orders):
    response = client_for(world.acme).get("/orders/1/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/orders/1/"


def test_same_ids_in_another_tenant_show_nothing_of_acme(world, orders):
    # globex's customer has acme's customer's id; globex's order 1 is not theirs.
    assert world.globex.customer.pk == world.acme.customer.pk
    globex = client_for(world.globex, "customer")
    assert globex.get("/orders/1/").status_code == 404
    assert globex.get("/orders/2/").context["page"]["order"]["external_id"] == "G-2"
    # globex's staff1 sees globex's order 1, never acme's.
    response = client_for(world.globex, "staff1").get("/orders/1/")
    assert response.context["page"]["order"]["external_id"] == "G-1" and b"A-1" not in response.content
    # acme's customer asking for an id that exists only in globex.
    assert client_for(world.acme, "customer").get("/orders/2/").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/orders/01/",
        "/orders/١/",
        "/orders/%D9%A1/",
        "/orders/0/",
        "/orders/-1/",
        "/orders/1.0/",
        "/orders/1e3/",
        "/orders/+1/",
        "/orders/%201/",
        "/orders/99999999999999999999999/",
        "/orders/9223372036854775808/",
        "/orders/null/",
        "/orders/1",  # without the slash: Django's APPEND_SLASH redirect, or a 404
    ],
)
def test_hostile_ids_are_the_404_page_never_a_500(world, orders, path):
    response = client_for(world.acme, "customer").get(path)
    assert response.status_code in (404, 301), (path, response.status_code)
    if response.status_code == 301:
        assert response["Location"] == "/orders/1/"


# --- the API: timeline and comments -----------------------------------------------------------
def test_the_order_json_has_its_timeline_and_comments_and_keeps_its_keys(world, orders):
    acme = world.acme.tenant
    change_status(acme, orders, "accepted")
    add_comment(acme, orders, world.acme.staff1, "ten minutes")
    with tenant_context(acme):
        order_change_status(order_id=orders.pk, status="cancelled", reason="Out of dough")
        order = Order.objects.get(pk=orders.pk)
        history = list(OrderStatusChange.objects.filter(order=order).order_by("id"))

    body = client_for(world.acme, "customer").get("/api/orders/1").json()

    assert {"id", "external_id", "store_id", "status", "total", "currency", "customer", "customer_name"} <= set(body)
    assert body["status"] == "cancelled" and body["cancel_reason"] == "Out of dough"
    assert body["timeline"] == [
        {"status": "new", "previous_status": None, "at": order.created_at.isoformat(), "reason": ""},
        {"status": "accepted", "previous_status": "new", "at": history[0].changed_at.isoformat(), "reason": ""},
        {
            "status": "cancelled",
            "previous_status": "accepted",
            "at": order.updated_at.isoformat(),
            "reason": "Out of dough",
        },
    ]
    assert [(c["author"], c["body"]) for c in body["comments"]] == [("staff1", "ten minutes")]
    # The same for staff; another tenant's order 1 has only its creation.
    assert client_for(world.acme, "staff1").get("/api/orders/1").json()["timeline"] == body["timeline"]
    globex = client_for(world.globex, "staff1").get("/api/orders/1").json()
    assert [e["status"] for e in globex["timeline"]] == ["new"] and globex["comments"] == []


def test_a_refused_transition_leaves_no_history(world, orders):
    response = client_for(world.acme, "staff1").post(
        "/api/orders/1/status", {"status": "completed"}, content_type="application/json"
    )
    assert response.status_code == 422
    with tenant_context(world.acme.tenant):
        assert not OrderStatusChange.objects.exists()


def test_history_rows_are_backfilled_from_the_stream(world, orders):
    acme = world.acme.tenant
    change_status(acme, orders, "accepted")
    with tenant_context(acme):
        order_change_status(order_id=orders.pk, status="cancelled", reason="¡Sin masa!")
        written = list(OrderStatusChange.objects.values_list("order_id", "status", "previous_status", "reason"))
        times = list(OrderStatusChange.objects.order_by("id").values_list("changed_at", flat=True))
        OrderStatusChange.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(importlib.import_module("orders.migrations.0005_order_status_change").BACKFILL)
        assert list(OrderStatusChange.objects.values_list("order_id", "status", "previous_status", "reason")) == written
        assert list(OrderStatusChange.objects.order_by("id").values_list("changed_at", flat=True)) == times


# --- order.changed ---------------------------------------------------------------------------------
def changed_frames(published, tenant, user_id):
    group = groups.user_notifications(tenant, user_id)
    return [p.frame for p in published if p.group == group and p.frame["type"] == "order.changed"]


def test_order_changed_goes_to_the_customer_after_commit_with_the_change(world, orders, published):
    acme = world.acme.tenant
    with tenant_context(acme), transaction.atomic():
        order_change_status(order_id=orders.pk, status="accepted")
        assert changed_frames(published, acme, world.acme.customer.pk) == []  # not before the commit
    add_comment(acme, orders, world.acme.staff1, "¿Con hielo?")
    with tenant_context(acme):
        order_change_status(order_id=orders.pk, status="cancelled", reason="closed")
        order = Order.objects.get(pk=orders.pk)

    frames = changed_frames(published, acme, world.acme.customer.pk)
    assert [f["change"]["kind"] for f in frames] == ["status", "comment", "status"]
    accepted, comment, cancelled = frames
    assert accepted["order"]["status"] == "accepted" and accepted["order"]["id"] == 1
    assert accepted["change"]["entry"]["status"] == "accepted"
    assert accepted["change"]["entry"]["previous_status"] == "new"
    assert comment["change"]["comment"]["body"] == "¿Con hielo?" and comment["change"]["entry"] is None
    assert cancelled["change"]["entry"] == {
        "status": "cancelled",
        "previous_status": "accepted",
        "at": order.updated_at.isoformat(),
        "reason": "closed",
    }
    # Exactly what the timeline of GET /api/orders/<id> says.
    timeline = client_for(world.acme, "customer").get("/api/orders/1").json()["timeline"]
    assert timeline[1:] == [accepted["change"]["entry"], cancelled["change"]["entry"]]
    # The same user id and order id in globex: nothing.
    assert changed_frames(published, world.globex.tenant, world.acme.customer.pk) == []


def test_a_rolled_back_change_publishes_nothing_and_keeps_no_history(world, orders, published):
    acme = world.acme.tenant
    with tenant_context(acme), pytest.raises(RuntimeError), transaction.atomic():
        order_change_status(order_id=orders.pk, status="accepted")
        order_comment_add(order_id=orders.pk, author=world.acme.staff1, body="never")
        raise RuntimeError
    assert changed_frames(published, acme, world.acme.customer.pk) == []
    with tenant_context(acme):
        assert not OrderStatusChange.objects.exists()


def test_an_order_without_a_customer_publishes_to_nobody(world, orders, published):
    globex = world.globex.tenant
    with tenant_context(globex):
        order = Order.objects.get(external_id="G-1")
    change_status(globex, order, "accepted")
    assert [p for p in published if json.loads(p.text)["type"] == "order.changed"] == []


def test_the_frame_is_json_safe_and_built_without_a_query(world, orders, published):
    acme = world.acme.tenant
    with tenant_context(acme):
        order = Order.objects.select_related("customer").get(pk=orders.pk)
        order.total = Decimal("19.99")
        with CaptureQueriesContext(connection) as statements:
            order.save()
    # The update, the stream's seq and its event: nothing read for the frame.
    sql = [q["sql"] for q in statements.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(sql) == 3 and not any(q.startswith("SELECT") for q in sql), sql
    (frame,) = changed_frames(published, acme, world.acme.customer.pk)
    assert frame["change"] == {"kind": "updated", "entry": None, "comment": None}
    assert frame["order"]["total"] == "19.99"


# --- over the socket ----------------------------------------------------------------------------
async def test_the_customers_socket_gets_order_changed_and_the_globex_twin_nothing(open_socket, world, orders):
    acme, globex = world.acme, world.globex
    mine = await open_socket("/ws/notifications/", cookie=await login_cookie(acme.tenant, acme.customer))
    twin = await open_socket(
        "/ws/notifications/", host="globex.localhost", cookie=await login_cookie(globex.tenant, globex.customer)
    )
    bystander = await open_socket("/ws/notifications/", cookie=await login_cookie(acme.tenant, acme.staff2))
    for socket in (mine, twin, bystander):
        assert (await socket.receive())["type"] == "notifications.unread"

    await sync_to_async(change_status)(acme.tenant, orders, "accepted")

    frames = [await mine.receive(), await mine.receive()]
    changed = next(f for f in frames if f["type"] == "order.changed")
    assert changed["order"]["external_id"] == "A-1" and changed["change"]["entry"]["status"] == "accepted"
    assert {f["type"] for f in frames} == {"order.changed", "notification.created"}
    assert await twin.nothing() and await bystander.nothing()


@pytest.mark.parametrize(
    "message",
    [
        {"type": "order.changed", "order": {"id": 1}, "change": {"kind": "status"}},
        {"type": "order.changed", "order": None},
        {"type": "orders.subscribe", "order_id": "١"},
        {"type": "order.changed", "order": {"id": [[[[[[[[1]]]]]]]]}},
        {"type": "order.changed", "order": {"id": -1, "status": "completed"}},
        {"type": "order.changed", "order": {"id": 10**30}},
    ],
)
async def test_a_client_cannot_send_order_changed_and_the_socket_stays_open(open_socket, world, orders, message):
    acme = world.acme
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme.tenant, acme.customer))
    await socket.receive()
    await socket.send(message)
    error = await socket.receive()
    assert error["type"] == "error" and error["code"] == "unknown_type"
    await socket.send({"type": "ping"})
    assert (await socket.receive())["type"] == "pong"

    def unchanged():
        with tenant_context(acme.tenant):
            return Order.objects.get(pk=1).status, OrderStatusChange.objects.count()

    assert await sync_to_async(unchanged)() == ("new", 0)
