"""POST /api/integrations/<id>/webhook: signed, idempotent, strict, and nothing
written on any error."""

import json
from decimal import Decimal

import msgpack
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import tenant_context

from alerts.models import Notification
from orders.integrations.services import integration_create, integration_secret_add, integration_secret_revoke
from orders.models import Integration, Order, OrderComment, StoreEvent, WebhookDelivery
from tests.factories import session_cookie
from tests.orders.webhook_client import payload, post, send, sign, stale

pytestmark = pytest.mark.django_db


@pytest.fixture
def integration(world):
    with tenant_context(world.acme.tenant):
        created, secret = integration_create(name="shop")
    return created, secret


def state(cast):
    """Everything a webhook may write, to prove that nothing was."""
    with tenant_context(cast.tenant):
        return (
            list(Order.objects.order_by("id").values_list("external_id", "status", "total", "notes")),
            OrderComment.objects.count(),
            StoreEvent.objects.count(),
            Notification.objects.count(),
            get_user_model().objects.count(),
        )


def accepted(cast):
    with tenant_context(cast.tenant):
        return WebhookDelivery.objects.filter(accepted=True).count()


# --- the happy path ------------------------------------------------------------------------
def test_a_signed_order_created_makes_an_order_and_a_retry_changes_nothing(world, integration):
    integ, secret = integration
    body = json.dumps(
        payload(
            total="18.50",
            currency="EUR",
            notes="ring twice",
            line_items=[{"sku": "A", "quantity": 2}],
            customer={"email": "Ana@Example.com", "name": "Ana Díaz"},
        )
    )
    headers = sign(secret, body)
    response = post(integ.pk, body, headers)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "processed"
    assert response.json()["order"]["external_id"] == "SHOP-1" and response.json()["order"]["total"] == "18.50"
    with tenant_context(world.acme.tenant):
        order = Order.objects.get()
        assert order.total == Decimal("18.50") and order.notes == "ring twice"
        assert order.customer.email == "Ana@Example.com" and order.customer.first_name == "Ana"
        assert not order.customer.has_usable_password()
    before = state(world.acme)

    again = post(integ.pk, body, headers)  # the same delivery, retried
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert state(world.acme) == before


ORDER_HEAD = '{"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", "data": {"store_id": 1, '


def test_a_json_number_total_is_exact(world, integration):
    integ, secret = integration
    response = send(
        integ.pk,
        secret,
        '{"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", '
        '"data": {"store_id": 1, "external_id": "N-1", "total": 0.1}}',
    )
    assert response.status_code == 200
    assert response.json()["order"]["total"] == "0.10", "said as stored, as every later read says it"
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().total == Decimal("0.10")
        assert json.loads(StoreEvent.objects.get().frame)["data"]["order"]["total"] == "0.10"


SHOP_BODY = (
    # What a shop system sends: JSON numbers for amounts, nested options, extras.
    '{"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", "data": {"store_id": 1, "external_id": "LI-1", '
    '"total": 27.75, "line_items": [{"name": "Pizza margherita", "sku": "PZ-1", "quantity": 1.5, "unit_price": 18.5, '
    '"options": [{"name": "size", "value": "L"}, {"name": "extra cheese", "value": 0.5}], '
    '"tax_rate": 0.21, "gift": true, "ids": [12345678901234567890]}]}}'
)
SHOP_ITEMS = [
    {
        "name": "Pizza margherita",
        "sku": "PZ-1",
        "quantity": "1.5",
        "unit_price": "18.5",
        "options": [{"name": "size", "value": "L"}, {"name": "extra cheese", "value": "0.5"}],
        "extra": {"tax_rate": "0.21", "gift": True, "ids": ["12345678901234567890"]},
    }
]


def test_line_items_with_json_numbers_are_stored_exactly_and_reach_the_stream(
    world, integration, published, django_capture_on_commit_callbacks
):
    integ, secret = integration
    with django_capture_on_commit_callbacks(execute=True):  # publishes, as after a commit
        response = send(integ.pk, secret, SHOP_BODY)
    assert response.status_code == 200, response.content
    assert response.json()["order"]["line_items"] == SHOP_ITEMS
    with tenant_context(world.acme.tenant):
        order = Order.objects.get()
        assert order.line_items == SHOP_ITEMS and order.total == Decimal("27.75")
        stored = json.loads(StoreEvent.objects.get().frame)
    assert stored["data"]["order"]["line_items"] == SHOP_ITEMS
    [sent] = [p for p in published if p.frame["type"] == "order.created"]
    assert sent.frame == stored  # the live frame is the stored one
    assert msgpack.unpackb(msgpack.packb({"text": sent.text})) == {"text": sent.text}  # as channels-redis carries it

    staff = Client(HTTP_HOST="acme.localhost", HTTP_COOKIE=session_cookie(world.acme.tenant, world.acme.staff1))
    assert staff.get(f"/api/orders/{order.pk}").json()["line_items"] == SHOP_ITEMS

    again = send(integ.pk, secret, SHOP_BODY.replace('"order.created"', '"order.updated"'))
    assert again.status_code == 200
    with tenant_context(world.acme.tenant):
        assert StoreEvent.objects.count() == 1, "the same items again change nothing"


@pytest.mark.parametrize(
    "line_items,fields",
    [
        ('[{"sku": "A"}, {"sku": "B"}, {"sku": "C"}, {"sku": "D", "quantity": -2}]', {"data.line_items[3].quantity"}),
        ('[{"sku": "A", "unit_price": 1e400}]', {"data.line_items[0].unit_price"}),
        (
            '[{"quantity": "x", "unit_price": 0.12345}]',
            {"data.line_items[0]." + f for f in ("name", "quantity", "unit_price")},
        ),
        ('[{"sku": "A", "options": ' + "[" * 30 + "]" * 30 + "}]", {"data.line_items[0].options"}),
        ('[{"sku": "A"}, 7]', {"data.line_items[1]"}),
    ],
)
def test_bad_line_items_are_422_naming_each_field_and_write_nothing(world, integration, line_items, fields):
    integ, secret = integration
    before = state(world.acme)
    body = ORDER_HEAD + f'"external_id": "LI-2", "total": "1", "line_items": {line_items}}}}}'
    response = send(integ.pk, secret, body)
    assert response.status_code == 422, response.content
    assert set(response.json()["error"]["fields"]) == fields
    assert state(world.acme) == before


def test_an_update_without_line_items_keeps_them(world, integration):
    integ, secret = integration
    send(integ.pk, secret, SHOP_BODY)
    assert send(integ.pk, secret, payload("order.updated", external_id="LI-1", notes="late")).status_code == 200
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().line_items == SHOP_ITEMS


def test_orders_are_upserted_by_store_and_external_id(world, integration):
    integ, secret = integration
    send(integ.pk, secret, payload(total="10.00"))
    send(integ.pk, secret, payload(total="12.00"))  # created again, a new webhook-id: an update
    send(integ.pk, secret, payload("order.updated", notes="no onions"))
    with tenant_context(world.acme.tenant):
        order = Order.objects.get()
        assert (order.total, order.notes) == (Decimal("12.00"), "no onions")
        assert list(StoreEvent.objects.order_by("seq").values_list("type", flat=True)) == [
            "order.created",
            "order.updated",
            "order.updated",
        ]
    before = state(world.acme)
    assert send(integ.pk, secret, payload("order.updated", notes="no onions")).status_code == 200
    assert state(world.acme) == before, "an update that changes nothing writes nothing"


def test_status_and_comments_flow_through_the_same_rules(world, integration):
    integ, secret = integration
    send(integ.pk, secret, payload(total="5", customer={"email": "c@example.com"}))
    assert send(integ.pk, secret, payload("order.status_changed", status="accepted")).status_code == 200
    same = send(integ.pk, secret, payload("order.status_changed", status="accepted"))
    assert same.status_code == 200
    refused = send(integ.pk, secret, payload("order.status_changed", status="completed"))
    assert refused.status_code == 422 and "data.status" in refused.json()["error"]["fields"]
    assert send(integ.pk, secret, payload("order.comment_added", body="Courier is on the way")).status_code == 200
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().status == "accepted"
        comment = OrderComment.objects.get()
        assert comment.author is None and comment.body == "Courier is on the way"
        kinds = list(Notification.objects.filter(recipient__email="c@example.com").values_list("kind", flat=True))
        assert sorted(kinds) == ["order_comment", "order_status"]


def test_a_customer_is_found_by_email(world, integration):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        world.acme.customer.email = "known@example.com"
        world.acme.customer.save()
    send(integ.pk, secret, payload(total="1", customer={"email": "KNOWN@example.com"}))
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().customer_id == world.acme.customer.pk


@pytest.mark.parametrize("who", ["admin", "staff1", "manager1"])
def test_an_order_is_never_attached_to_the_people_who_run_the_tenant(world, integration, who):
    """A shop system that holds an admin's or a staff member's address gets an
    order with no customer account: not theirs, and not a shadow account."""
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        person = getattr(world.acme, who)
        person.email = f"{who}@acme.test"
        person.save()
        users_before = get_user_model().objects.count()
    response = send(integ.pk, secret, payload(total="1", customer={"email": f" {who.upper()}@ACME.test "}))
    assert response.status_code == 200
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().customer_id is None
        assert get_user_model().objects.count() == users_before
        assert not Notification.objects.filter(recipient=person).exclude(kind="system").exists()


def test_a_django_superuser_or_staff_flag_is_not_a_customer_either(world, integration):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        world.acme.customer.email, world.acme.customer.is_staff = "flagged@example.com", True
        world.acme.customer.save()
    send(integ.pk, secret, payload(total="1", customer={"email": "flagged@example.com"}))
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().customer_id is None


def test_an_update_naming_a_staff_address_keeps_the_order_s_customer(world, integration):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        world.acme.staff1.email = "staff1@acme.test"
        world.acme.staff1.save()
    send(integ.pk, secret, payload(total="1", customer={"email": "ana@example.com"}))
    send(integ.pk, secret, payload("order.updated", customer={"email": "staff1@acme.test"}))
    with tenant_context(world.acme.tenant):
        assert Order.objects.get().customer.email == "ana@example.com"


# --- signatures --------------------------------------------------------------------------------
def test_rotation_keeps_old_and_new_secrets_valid_until_one_is_revoked(world, integration):
    integ, old = integration
    with tenant_context(world.acme.tenant):
        new = integration_secret_add(integration=integ)
    assert send(integ.pk, old, payload(total="1", external_id="A")).status_code == 200
    assert send(integ.pk, new, payload(total="1", external_id="B")).status_code == 200
    with tenant_context(world.acme.tenant):
        integration_secret_revoke(integration=integ, secret_id=integ.secrets.get(secret=old).pk)
    assert send(integ.pk, old, payload(total="1", external_id="C")).status_code == 401
    assert send(integ.pk, new, payload(total="1", external_id="D")).status_code == 200


def test_any_listed_v1_signature_may_match(world, integration):
    integ, secret = integration
    body = json.dumps(payload(total="1"))
    headers = sign(secret, body)
    headers["webhook-signature"] = f"v1,AAAA v2,zzzz {headers['webhook-signature']}"
    assert post(integ.pk, body, headers).status_code == 200


def unsigned_cases(secret):
    body = json.dumps(payload(total="1"))
    good = sign(secret, body)
    tampered = json.dumps(payload(total="1000"))
    yield "tampered body", tampered, good
    yield "wrong secret", body, sign("whsec_" + "A" * 32, body)
    yield "stale timestamp", body, sign(secret, body, at=stale(-6))
    yield "future timestamp", body, sign(secret, body, at=stale(6))
    yield "v2 only", body, {**good, "webhook-signature": good["webhook-signature"].replace("v1,", "v2,")}
    yield "garbage signature", body, {**good, "webhook-signature": "v1,%%%not-base64"}
    yield "timestamp not a number", body, {**good, "webhook-timestamp": "yesterday"}
    yield "timestamp in superscript digits", body, {**good, "webhook-timestamp": "¹²³"}
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        yield f"missing {header}", body, {k: v for k, v in good.items() if k != header}
    yield "another id than signed", body, {**good, "webhook-id": "msg_other"}


@pytest.mark.parametrize("case", range(12))
def test_unsigned_or_badly_signed_requests_are_401_and_write_nothing(world, integration, case):
    integ, secret = integration
    cases = list(unsigned_cases(secret))
    assert len(cases) == 12
    name, body, headers = cases[case]
    before = state(world.acme)
    response = post(integ.pk, body, headers)
    assert response.status_code == 401, name
    assert response.json()["error"]["fields"], name
    assert state(world.acme) == before
    with tenant_context(world.acme.tenant):
        assert not WebhookDelivery.objects.exists(), "unauthenticated requests are not even logged"


def test_a_timestamp_within_five_minutes_is_accepted(world, integration):
    integ, secret = integration
    assert send(integ.pk, secret, payload(total="1"), at=stale(-4)).status_code == 200


# --- payloads -----------------------------------------------------------------------------------
BAD_PAYLOADS = [
    ("{not json", 400, None),
    ("[1, 2]", 400, None),
    (payload(total="1") | {"type": "order.deleted"}, 422, "type"),
    ({"type": "order.created", "data": {"store_id": 1, "external_id": "X", "total": "1"}}, 422, "timestamp"),
    (payload(total="1") | {"timestamp": "last tuesday"}, 422, "timestamp"),
    (payload(total="1") | {"timestamp": "2026-13-45T00:00:00Z"}, 422, "timestamp"),
    (payload(total="1") | {"extra": True}, 422, "extra"),
    (payload(), 422, "data.total"),
    (payload(total="1", store_id="1"), 422, "data.store_id"),
    (payload(total="1", store_id=True), 422, "data.store_id"),
    (payload(total="1", external_id=""), 422, "data.external_id"),
    (payload(total="1", external_id=7), 422, "data.external_id"),
    (payload(total="-1"), 422, "data.total"),
    (payload(total="1.005"), 422, "data.total"),
    (payload(total="NaN"), 422, "data.total"),
    (payload(total="١٢"), 422, "data.total"),  # Arabic-Indic digits: not 12
    (payload(total=" 12"), 422, "data.total"),
    (payload(total="1_0"), 422, "data.total"),
    (payload(total=[1]), 422, "data.total"),
    (payload(total="1", currency="euro"), 422, "data.currency"),
    (payload(total="1", line_items="two"), 422, "data.line_items"),
    (payload(total="1", customer={"email": "not-an-email"}), 422, "data.customer"),
    (payload(total="1", customer={"email": "a@b.c", "role": "admin"}), 422, "data.customer"),
    (payload(total="1", customer={"email": "boss@acme.example, other@x.y"}), 422, "data.customer"),
    (payload(total="1", customer={"email": "boss@acme.example\u200b"}), 422, "data.customer"),
    (payload(total="1", customer={"email": "bоss@acme.example"}), 422, "data.customer"),  # a Cyrillic о
    (payload(total="1", coupon="FREE"), 422, "data.coupon"),
    (payload("order.status_changed"), 422, "data.status"),
    (payload("order.status_changed", status="shipped", external_id="SHOP-1"), 422, "data.status"),
    (payload("order.comment_added", body="hi", external_id="NOPE"), 422, "data.external_id"),
    (payload("order.comment_added", body=""), 422, "data.body"),
    (payload(total="1", store_id=999), 422, "data.store_id"),
    ({"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", "data": []}, 422, "data"),
]


@pytest.mark.parametrize("body,status,field", BAD_PAYLOADS)
def test_bad_payloads_are_refused_naming_each_field_and_write_nothing(world, integration, body, status, field):
    integ, secret = integration
    if status == 422 and field in ("data.status", "data.body"):
        send(integ.pk, secret, payload(total="1"))  # an order to act on
    before = state(world.acme)
    response = send(integ.pk, secret, body)
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["error"]["fields"]
    assert state(world.acme) == before
    with tenant_context(world.acme.tenant):
        refused = WebhookDelivery.objects.filter(accepted=False).get()
        assert refused.status_code == status, "authenticated refusals are logged for the integrator"


# --- one webhook-id, one body --------------------------------------------------------------
def test_a_reused_webhook_id_with_another_body_is_409_and_writes_nothing(world, integration):
    integ, secret = integration
    first = payload(total="10.00", notes="first")
    assert send(integ.pk, secret, first, msg_id="msg_reused").json()["status"] == "processed"
    before = state(world.acme)

    reused = send(integ.pk, secret, payload(total="99.00", notes="another order"), msg_id="msg_reused")

    assert reused.status_code == 409, reused.content
    error = reused.json()["error"]
    assert error["code"] == "conflict" and "webhook-id" in error["fields"]
    assert state(world.acme) == before
    with tenant_context(world.acme.tenant):
        assert WebhookDelivery.objects.filter(accepted=True).count() == 1
        assert WebhookDelivery.objects.get(accepted=False).status_code == 409, "shown to the integrator"

    retried = send(integ.pk, secret, first, msg_id="msg_reused")  # the same id and the same body
    assert retried.status_code == 200 and retried.json()["status"] == "duplicate"
    assert state(world.acme) == before


def test_the_body_is_compared_byte_for_byte(world, integration):
    """The signature covers the raw body, so a real retry sends the same bytes."""
    integ, secret = integration
    send(
        integ.pk,
        secret,
        '{"type": "order.created", "timestamp": "2026-11-21T12:00:00Z", "data": '
        '{"store_id": 1, "external_id": "B-1", "total": "1"}}',
        msg_id="msg_bytes",
    )
    respaced = send(
        integ.pk,
        secret,
        '{"type":"order.created","timestamp":"2026-11-21T12:00:00Z","data":'
        '{"store_id":1,"external_id":"B-1","total":"1"}}',
        msg_id="msg_bytes",
    )
    assert respaced.status_code == 409


def test_deliveries_stored_before_digests_were_kept_count_as_the_same_body(world, integration):
    integ, secret = integration
    send(integ.pk, secret, payload(total="1"), msg_id="msg_old")
    with tenant_context(world.acme.tenant):
        WebhookDelivery.objects.update(body_digest="")  # as the migration leaves older rows
    before = state(world.acme)
    again = send(integ.pk, secret, payload(total="2"), msg_id="msg_old")
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert state(world.acme) == before


def test_a_webhook_id_is_one_body_per_integration(world, integration):
    integ, secret = integration
    with tenant_context(world.acme.tenant):
        other, other_secret = integration_create(name="another shop")
    send(integ.pk, secret, payload(total="1"), msg_id="msg_shared")
    response = send(other.pk, other_secret, payload(total="2", external_id="OTHER-1"), msg_id="msg_shared")
    assert response.status_code == 200 and response.json()["status"] == "processed"


def test_a_refused_delivery_may_be_retried_with_the_same_id_once_fixed(world, integration):
    integ, secret = integration
    assert send(integ.pk, secret, payload(), msg_id="msg_fixed").status_code == 422
    assert send(integ.pk, secret, payload(total="3"), msg_id="msg_fixed").status_code == 200
    assert accepted(world.acme) == 1


def test_a_store_the_integration_may_not_write_is_refused(world):
    with tenant_context(world.acme.tenant):
        integ, secret = integration_create(name="store two only", store_ids=[2])
    before = state(world.acme)
    response = send(integ.pk, secret, payload(total="1"))
    assert response.status_code == 403 and "data.store_id" in response.json()["error"]["fields"]
    assert state(world.acme) == before
    assert send(integ.pk, secret, payload(total="1", store_id=2)).status_code == 200


def test_oversized_body_is_413(world, integration, settings):
    integ, secret = integration
    settings.WEBHOOK_MAX_BODY_BYTES = 200
    before = state(world.acme)
    response = send(integ.pk, secret, payload(total="1", notes="x" * 300))
    assert response.status_code == 413
    assert state(world.acme) == before


def test_the_default_limit_is_one_mebibyte(world, integration):
    integ, secret = integration
    response = send(integ.pk, secret, payload(total="1", notes="x" * (1024 * 1024)))
    assert response.status_code == 413


def test_an_integration_id_of_one_tenant_means_nothing_on_another(world, integration):
    integ, secret = integration
    with tenant_context(world.globex.tenant):
        twin = Integration.objects.create(id=integ.pk, name="globex shop")  # the same id, another tenant
        integration_secret_add(integration=twin)
    before = state(world.acme), state(world.globex)
    response = send(integ.pk, secret, payload(total="1"), host="globex.localhost")
    assert response.status_code == 401
    assert (state(world.acme), state(world.globex)) == before
    assert send(9999, secret, payload(total="1")).status_code == 404


def test_get_is_405(world, integration):
    from django.test import Client

    response = Client(HTTP_HOST="acme.localhost").get(f"/api/integrations/{integration[0].pk}/webhook")
    assert response.status_code == 405
