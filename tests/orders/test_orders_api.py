"""The orders API: who sees and changes what, and every bad request."""

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from orders.models import Order, OrderComment, StoreEvent
from tests.factories import change_status, create_order

pytestmark = pytest.mark.django_db


def client_for(cast, who=None, **extra) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", **extra)
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def post_json(client, path, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data=data, content_type=extra.pop("content_type", "application/json"), **extra)


@pytest.fixture
def orders(world):
    """Three orders in acme store 1 (two of them the customer's), one in store 2,
    and an order in globex store 1 with the same ids."""
    acme, globex = world.acme, world.globex
    made = {
        "a1": create_order(acme.tenant, external_id="A-1", customer=acme.customer),
        "a2": create_order(acme.tenant, external_id="A-2"),
        "a3": create_order(acme.tenant, external_id="A-3", customer=acme.customer),
        "s2": create_order(acme.tenant, store_id=2, external_id="B-1"),
        "g1": create_order(globex.tenant, external_id="G-1", customer=globex.customer),
    }
    change_status(acme.tenant, made["a2"], "accepted")
    return made


def external_ids(response):
    return [o["external_id"] for o in response.json()["results"]]


# --- GET /api/stores/<id>/orders ---------------------------------------------------------------
def test_staff_list_their_store_newest_first_with_the_stream_position(world, orders):
    response = client_for(world.acme, "staff1").get("/api/stores/1/orders")
    assert response.status_code == 200
    body = response.json()
    assert external_ids(response) == ["A-3", "A-2", "A-1"]
    assert body["count"] == 3 and body["page"] == 1 and body["pages"] == 1 and body["next"] is None
    assert body["latest_seq"] == 4  # three created, one accepted
    assert body["results"][0]["total"] == "10.00"


def test_the_same_store_id_in_another_tenant_lists_only_that_tenants_orders(world, orders):
    response = client_for(world.globex, "staff1").get("/api/stores/1/orders")
    assert external_ids(response) == ["G-1"]


def test_paging_and_status_filter(world, orders):
    client = client_for(world.acme, "staff1")
    page2 = client.get("/api/stores/1/orders?page=2&page_size=2").json()
    assert [o["external_id"] for o in page2["results"]] == ["A-1"]
    assert page2["previous"] == 1 and page2["next"] is None and page2["pages"] == 2
    assert external_ids(client.get("/api/stores/1/orders?status=accepted")) == ["A-2"]
    assert client.get("/api/stores/1/orders?page=9").json()["results"] == []


@pytest.mark.parametrize(
    "query,field",
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=x", "page"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page=99999999999", "page"),
        ("status=shipped", "status"),
        ("status=", "status"),
        ("page=²", "page"),
        ("page=٣", "page"),
        ("page_size=３", "page_size"),
    ],  # Unicode digits are not numbers here
)
def test_bad_query_parameters_are_named(world, orders, query, field):
    response = client_for(world.acme, "staff1").get(f"/api/stores/1/orders?{query}")
    assert response.status_code in (400, 422)
    assert field in response.json()["error"]["fields"]


@pytest.mark.parametrize(
    "who,store_id,status",
    [
        ("staff2", 1, 403),
        ("customer", 1, 403),
        ("admin", 1, 403),
        ("staff1", 2, 403),
        ("staff1", 999, 404),
        (None, 1, 401),
    ],
)
def test_store_list_is_for_that_stores_staff_only(world, orders, who, store_id, status):
    response = client_for(world.acme, who).get(f"/api/stores/{store_id}/orders")
    assert response.status_code == status
    assert response.json()["error"]["code"]


# --- GET /api/orders and /api/orders/<id> -------------------------------------------------------
def test_customers_list_only_their_own_orders(world, orders):
    assert external_ids(client_for(world.acme, "customer").get("/api/orders")) == ["A-3", "A-1"]
    assert external_ids(client_for(world.globex, "customer").get("/api/orders")) == ["G-1"]


def test_staff_list_the_orders_of_their_stores(world, orders):
    assert external_ids(client_for(world.acme, "staff1").get("/api/orders")) == ["A-3", "A-2", "A-1"]
    assert external_ids(client_for(world.acme, "staff2").get("/api/orders")) == ["B-1"]


def test_order_detail_with_comments(world, orders):
    client = client_for(world.acme, "staff1")
    post_json(client, f"/api/orders/{orders['a1'].pk}/comments", {"body": "ready in 5"})
    detail = client_for(world.acme, "customer").get(f"/api/orders/{orders['a1'].pk}").json()
    assert detail["external_id"] == "A-1"
    assert [(c["author"], c["body"]) for c in detail["comments"]] == [("staff1", "ready in 5")]


@pytest.mark.parametrize("who,key", [("customer", "a2"), ("staff2", "a1"), ("admin", "a1")])
def test_orders_a_user_may_not_see_are_not_found(world, orders, who, key):
    assert client_for(world.acme, who).get(f"/api/orders/{orders[key].pk}").status_code == 404


def test_an_order_id_of_another_tenant_is_not_found(world, orders):
    # globex's order G-1 has an id that in acme belongs to nobody's order of globex.
    response = client_for(world.globex, "customer").get(f"/api/orders/{orders['a3'].pk}")
    assert response.status_code == 404


# --- POST status ----------------------------------------------------------------------------
def events(cast):
    with tenant_context(cast.tenant):
        return StoreEvent.objects.count()


def test_staff_change_the_status(world, orders):
    response = post_json(
        client_for(world.acme, "staff1"), f"/api/orders/{orders['a1'].pk}/status", {"status": "accepted"}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "accepted"


BAD_STATUS_BODIES = [
    ({"status": "completed"}, 422, "status"),  # not allowed from new
    ({"status": "shipped"}, 422, "status"),
    ({"status": None}, 422, "status"),
    ({"status": ["accepted"]}, 422, "status"),
    ({}, 422, "status"),
    ({"status": "accepted", "admin": True}, 422, "admin"),
    ("{not json", 400, None),
    ("[]", 400, None),
    ('"accepted"', 400, None),
    (b"\xff\xfe", 400, None),
]


@pytest.mark.parametrize("body,status,field", BAD_STATUS_BODIES)
def test_bad_status_requests_are_refused_clearly_and_write_nothing(world, orders, body, status, field):
    before = events(world.acme)
    response = post_json(client_for(world.acme, "staff1"), f"/api/orders/{orders['a1'].pk}/status", body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field:
        assert field in error["fields"]
    assert events(world.acme) == before
    with tenant_context(world.acme.tenant):
        assert Order.objects.get(pk=orders["a1"].pk).status == "new"


def test_wrong_content_type_and_oversized_bodies(world, orders, settings):
    client = client_for(world.acme, "staff1")
    path = f"/api/orders/{orders['a1'].pk}/status"
    assert (
        post_json(client, path, "status=accepted", content_type="application/x-www-form-urlencoded").status_code == 415
    )
    before = events(world.acme)
    settings.API_MAX_BODY_BYTES = 100
    response = post_json(client, path, {"status": "accepted", "pad": "x" * 200})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert client.post(path).status_code in (400, 415)  # no body at all
    assert events(world.acme) == before


@pytest.mark.parametrize(
    "who,key,status",
    [
        ("customer", "a1", 403),  # may see their order, may not change it
        ("staff2", "a1", 404),
        ("admin", "a1", 404),
        (None, "a1", 401),
    ],
)
def test_only_staff_of_the_store_change_orders(world, orders, who, key, status):
    client = client_for(world.acme, who)
    before = events(world.acme)
    assert post_json(client, f"/api/orders/{orders[key].pk}/status", {"status": "accepted"}).status_code == status
    assert post_json(client, f"/api/orders/{orders[key].pk}/comments", {"body": "hi"}).status_code == status
    assert events(world.acme) == before


def test_globex_staff_cannot_reach_acme_orders_with_the_same_ids(world, orders):
    client = client_for(world.globex, "staff1")
    response = post_json(client, f"/api/orders/{orders['a1'].pk}/status", {"status": "accepted"})
    assert response.status_code == 404
    with tenant_context(world.acme.tenant):
        assert Order.objects.get(pk=orders["a1"].pk).status == "new"


def test_get_on_a_post_endpoint_is_405_json(world, orders):
    response = client_for(world.acme, "staff1").get(f"/api/orders/{orders['a1'].pk}/status")
    assert response.status_code == 405 and response["Allow"] == "POST"


# --- POST comments ----------------------------------------------------------------------------
def test_staff_comment_and_the_body_is_stored_as_text(world, orders):
    hostile = '<script>alert("x")</script>'
    response = post_json(client_for(world.acme, "staff1"), f"/api/orders/{orders['a1'].pk}/comments", {"body": hostile})
    assert response.status_code == 201
    assert response.json()["body"] == hostile and response.json()["author"] == "staff1"


@pytest.mark.parametrize(
    "body", [{"body": ""}, {"body": "   "}, {"body": "x" * 2001}, {"body": 5}, {}, {"body": "ok", "x": 1}]
)
def test_bad_comments_are_refused_with_the_field_named(world, orders, body):
    response = post_json(client_for(world.acme, "staff1"), f"/api/orders/{orders['a1'].pk}/comments", body)
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) & {"body", "x"}
    with tenant_context(world.acme.tenant):
        assert not OrderComment.objects.exists()


# --- CSRF ---------------------------------------------------------------------------------------
def test_session_calls_need_the_csrf_token(world, orders):
    client = client_for(world.acme, "staff1", enforce_csrf_checks=True)
    path = f"/api/orders/{orders['a1'].pk}/status"
    refused = post_json(client, path, {"status": "accepted"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    client.get("/stores/1/")  # the page sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert post_json(client, path, {"status": "accepted"}, HTTP_X_CSRFTOKEN=token).status_code == 200


# --- pages ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who,status", [("staff1", 200), ("manager1", 200), ("staff2", 403), ("customer", 403)])
def test_dashboard_page_is_for_the_stores_staff(world, orders, who, status):
    assert client_for(world.acme, who).get("/stores/1/").status_code == status


def test_dashboard_page_embeds_the_board_and_the_client(world, orders):
    page = client_for(world.acme, "staff1").get("/stores/1/").content.decode()
    assert 'id="board-data"' in page and "orders/dashboard.js" in page and "A-3" in page
    assert client_for(world.acme, "staff1").get("/stores/999/").status_code == 404


def test_store_list_shows_only_my_stores(world):
    page = client_for(world.acme, "staff2").get("/stores/").content.decode()
    assert "/stores/2/" in page and "/stores/1/" not in page


def test_the_client_module_is_served(world):
    response = client_for(world.acme).get("/static/ws/pregon-socket.js")
    assert response.status_code == 200
    assert b"class StoreStream" in b"".join(response.streaming_content)
