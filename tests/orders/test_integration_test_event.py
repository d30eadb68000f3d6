""" "Send a test event" and the filtered delivery log: the real signed path,
for tenant admins only, with colliding ids (integration 1 and store 1 in
both tenants)."""

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context
from standardwebhooks import Webhook

from orders.integrations import webhooks
from orders.integrations.services import integration_create, integration_secret_revoke
from orders.models import IntegrationSecret, Order, WebhookDelivery
from tests.factories import TENANT_HOSTS

pytestmark = pytest.mark.django_db(transaction=True)  # the webhook path autocommits its rate counters


@pytest.fixture
def shops(world):
    """Integration 1 in both tenants: acme's may write to store 1 only."""
    made = {}
    for name, stores in (("acme", [1]), ("globex", None)):
        with tenant_context(getattr(world, name).tenant):
            made[name] = integration_create(name=f"{name} shop", store_ids=stores)[0]
    assert made["acme"].pk == made["globex"].pk == 1
    return made


def client_of(tenant, user) -> Client:
    client = Client(HTTP_HOST=TENANT_HOSTS[tenant.schema_name])
    with tenant_context(tenant):
        client.force_login(user)
    return client


def post(client, path, body, **extra):
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data=text, content_type="application/json", **extra)


def test_the_signature_is_the_standard_webhooks_one():
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    reference = Webhook(secret)
    from datetime import UTC, datetime

    at = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    body = '{"type": "order.created"}'
    assert webhooks.sign(secret=secret, webhook_id="msg_1", stamp=str(int(at.timestamp())), body=body.encode()) == (
        reference.sign("msg_1", at, body)
    )


def test_a_test_event_creates_a_real_order_through_the_signed_path_and_logs_it(world, shops, published):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = post(admin, "/api/integrations/1/test-event", {"store_id": 1})
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["delivered"] is True and result["status"] == 200
    assert result["answer"]["status"] == "processed"
    order = result["answer"]["order"]
    assert order["store_id"] == 1 and order["external_id"].startswith("TEST-") and order["total"] == "0.00"
    with tenant_context(world.acme.tenant):
        stored = Order.objects.get(pk=order["id"])
        assert stored.line_items[0]["name"] == "Test order"
        delivery = WebhookDelivery.objects.get()
        assert (delivery.webhook_id, delivery.accepted, delivery.order_id) == (result["webhook_id"], True, stored.pk)
    with tenant_context(world.globex.tenant):
        assert not Order.objects.exists() and not WebhookDelivery.objects.exists()
    # Live: the store's stream got the order (after commit), in acme's group.
    created = [p for p in published if p.frame.get("type") == "order.created"]
    assert len(created) == 1 and created[0].group.endswith("pedidos_1")
    assert created[0].frame["data"]["order"]["external_id"] == order["external_id"]


def test_a_refused_test_event_is_reported_and_logged_as_the_shop_would_see_it(world, shops):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = post(admin, "/api/integrations/1/test-event", {"store_id": 2})  # acme's shop: store 1 only
    assert response.status_code == 200
    result = response.json()
    assert (result["delivered"], result["status"]) == (False, 403)
    assert "data.store_id" in result["answer"]["error"]["fields"]
    unknown = post(admin, "/api/integrations/1/test-event", {"store_id": 99}).json()
    assert (unknown["delivered"], unknown["status"]) == (False, 422)
    with tenant_context(world.acme.tenant):
        assert not Order.objects.exists()
        assert list(WebhookDelivery.objects.values_list("accepted", "status_code").order_by("id")) == [
            (False, 403),
            (False, 422),
        ]


def test_only_active_secrets_sign_and_without_one_nothing_is_sent(world, shops):
    with tenant_context(world.acme.tenant):
        for secret in IntegrationSecret.objects.all():
            integration_secret_revoke(integration=shops["acme"], secret_id=secret.pk)
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = post(admin, "/api/integrations/1/test-event", {"store_id": 1})
    assert response.status_code == 422 and "secrets" in response.json()["error"]["fields"]
    with tenant_context(world.acme.tenant):
        assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 422),  # missing
        ({"store_id": "1"}, 422),  # a string
        ({"store_id": "١"}, 422),  # Unicode digits
        ({"store_id": True}, 422),
        ({"store_id": 0}, 422),
        ({"store_id": 2**70}, 422),
        ({"store_id": {"a": {"b": [1]}}}, 422),  # nested
        ({"store_id": 1, "extra": 1}, 422),
        ("[" * 100_000 + "]" * 100_000, 400),  # nested too deeply (and large)
        ("not json", 400),
        ('{"store_id": 1e400}', 422),  # infinity
    ],
)
def test_bad_test_event_input_is_refused_and_nothing_is_written(world, shops, body, status):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = post(admin, "/api/integrations/1/test-event", body)
    assert response.status_code in (status, 413), response.content[:300]
    assert "error" in response.json()
    with tenant_context(world.acme.tenant):
        assert not WebhookDelivery.objects.exists() and not Order.objects.exists()


def test_a_huge_body_is_413(world, shops):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = post(admin, "/api/integrations/1/test-event", {"store_id": 1, "pad": "x" * 2_000_000})
    assert response.status_code == 413


def test_only_the_tenants_admins_send_test_events_to_its_own_integrations(world, shops):
    for person in (world.acme.staff1, world.acme.manager1, world.acme.customer):
        response = post(client_of(world.acme.tenant, person), "/api/integrations/1/test-event", {"store_id": 1})
        assert response.status_code == 403
    assert (
        post(Client(HTTP_HOST="acme.localhost"), "/api/integrations/1/test-event", {"store_id": 1}).status_code == 401
    )
    # globex has integration 2; acme has not: 404, and globex's is untouched.
    with tenant_context(world.globex.tenant):
        integration_create(name="globex second")
    admin = client_of(world.acme.tenant, world.acme.admin)
    assert post(admin, "/api/integrations/2/test-event", {"store_id": 1}).status_code == 404
    # CSRF applies to the browser session.
    strict = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    with tenant_context(world.acme.tenant):
        strict.force_login(world.acme.admin)
    assert post(strict, "/api/integrations/1/test-event", {"store_id": 1}).status_code == 403
    with tenant_context(world.globex.tenant):
        assert not WebhookDelivery.objects.exists()
    with tenant_context(world.acme.tenant):
        assert not WebhookDelivery.objects.exists()


def test_the_delivery_log_filters_by_outcome_event_type_time_and_position(world, shops):
    admin = client_of(world.acme.tenant, world.acme.admin)
    # (A refused delivery's id comes after the one its rolled-back attempt took.)
    first = post(admin, "/api/integrations/1/test-event", {"store_id": 1}).json()["webhook_id"]
    post(admin, "/api/integrations/1/test-event", {"store_id": 2})  # refused
    post(admin, "/api/integrations/1/test-event", {"store_id": 1})
    with tenant_context(world.acme.tenant):
        accepted1, refused, accepted2 = WebhookDelivery.objects.order_by("id").values_list("id", flat=True)
        assert WebhookDelivery.objects.get(pk=accepted1).webhook_id == first
    with tenant_context(world.globex.tenant):
        WebhookDelivery.objects.create(integration_id=1, webhook_id="globex", accepted=True, status_code=200)

    def ids(query=""):
        response = admin.get(f"/api/integrations/1/deliveries?{query}")
        assert response.status_code == 200, response.content
        return [d["id"] for d in response.json()["results"]]

    assert ids() == [accepted2, refused, accepted1]
    assert ids("outcome=accepted") == [accepted2, accepted1]
    assert ids("outcome=refused") == [refused]
    assert ids("event_type=order.created") == [accepted2, refused, accepted1]
    assert ids("event_type=order.updated") == []
    assert ids(f"after={accepted1}") == [accepted2, refused]
    assert ids(f"since=2000-01-01T00:00:00%2B00:00&outcome=accepted&after={accepted1}") == [accepted2]
    assert ids("since=2999-01-01T00:00:00Z") == []
    assert "globex" not in admin.get("/api/integrations/1/deliveries").content.decode()


@pytest.mark.parametrize(
    "query, field",
    [
        ("outcome=maybe", "outcome"),
        ("event_type=order.deleted", "event_type"),
        ("since=yesterday", "since"),
        ("since=2026-01-01T00:00:00", "since"),  # no offset: whose midnight?
        ("after=%D9%A1", "after"),  # Arabic-Indic one
        ("after=-1", "after"),
        ("after=99999999999999999999999", "after"),
    ],
)
def test_bad_log_filters_are_a_400_naming_the_filter(world, shops, query, field):
    admin = client_of(world.acme.tenant, world.acme.admin)
    response = admin.get(f"/api/integrations/1/deliveries?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
