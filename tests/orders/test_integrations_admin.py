"""Tenant admins manage integrations; the contract's create_integration command."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import tenant_context

from orders.integrations.services import integration_create
from orders.models import IntegrationSecret
from tests.orders.webhook_client import payload, send

pytestmark = pytest.mark.django_db


def client_for(cast, who) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    with tenant_context(cast.tenant):
        client.force_login(getattr(cast, who))
    return client


def post(client, path, body=None):
    return client.post(path, data=json.dumps(body or {}), content_type="application/json")


def test_create_integration_prints_one_json_line_that_works(world):
    out = io.StringIO()
    call_command("create_integration", schema="acme", name="Shopify", stdout=out)
    line = out.getvalue().strip()
    assert "\n" not in line
    printed = json.loads(line)
    assert set(printed) == {"id", "secret"} and printed["secret"].startswith("whsec_")
    assert send(printed["id"], printed["secret"], payload(total="1")).status_code == 200


def test_create_integration_limited_to_stores_and_refusing_bad_arguments(world):
    out = io.StringIO()
    call_command("create_integration", schema="acme", name="store 2", store=[2], stdout=out)
    printed = json.loads(out.getvalue())
    assert send(printed["id"], printed["secret"], payload(total="1")).status_code == 403
    with pytest.raises(CommandError):
        call_command("create_integration", schema="nope", name="x", stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_integration", schema="acme", name="x", store=[999], stdout=io.StringIO())
    with pytest.raises(CommandError):
        call_command("create_integration", schema="public", name="x", stdout=io.StringIO())


def test_admins_create_rotate_and_revoke_and_see_deliveries(world):
    admin = client_for(world.acme, "admin")
    created = post(admin, "/api/integrations", {"name": "POS"})
    assert created.status_code == 201
    integration_id, first = created.json()["id"], created.json()["secret"]
    listed = admin.get("/api/integrations").json()["results"]
    assert [i["name"] for i in listed] == ["POS"]
    assert first not in json.dumps(listed), "a secret is shown once"

    second = post(admin, f"/api/integrations/{integration_id}/secrets").json()["secret"]
    assert send(integration_id, first, payload(total="1", external_id="A")).status_code == 200
    assert send(integration_id, second, payload(total="1", external_id="B")).status_code == 200
    with tenant_context(world.acme.tenant):
        first_id = IntegrationSecret.objects.get(secret=first).pk
    assert admin.delete(f"/api/integrations/{integration_id}/secrets/{first_id}").status_code == 200
    assert admin.delete(f"/api/integrations/{integration_id}/secrets/{first_id}").status_code == 404
    assert send(integration_id, first, payload(total="1", external_id="C")).status_code == 401
    send(integration_id, second, payload(external_id="D"))  # refused: no total

    deliveries = admin.get(f"/api/integrations/{integration_id}/deliveries").json()["results"]
    assert [(d["accepted"], d["status_code"]) for d in deliveries] == [(False, 422), (True, 200), (True, 200)]


@pytest.mark.parametrize(
    "body,field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x", "stores": [999]}, "stores"),
        ({"name": "x", "stores": "all"}, "stores"),
        ({"name": "x", "secret": "mine"}, "secret"),
    ],
)
def test_bad_integration_requests_name_the_field(world, body, field):
    response = post(client_for(world.acme, "admin"), "/api/integrations", body)
    assert response.status_code == 422 and field in response.json()["error"]["fields"]


@pytest.mark.parametrize("who", ["staff1", "customer", "manager1"])
def test_only_tenant_admins_manage_integrations(world, who):
    client = client_for(world.acme, who)
    assert client.get("/api/integrations").status_code == 403
    assert post(client, "/api/integrations", {"name": "x"}).status_code == 403
    assert client.get("/manage/integrations/").status_code == 403


def test_admin_of_another_tenant_does_not_see_these(world):
    post(client_for(world.acme, "admin"), "/api/integrations", {"name": "acme only"})
    assert client_for(world.globex, "admin").get("/api/integrations").json()["results"] == []
    assert client_for(world.globex, "admin").get("/api/integrations/1/deliveries").status_code == 404


def test_the_page_is_served_to_admins(world):
    assert "orders/integrations.js" in client_for(world.acme, "admin").get("/manage/integrations/").content.decode()


def test_delivery_logs_are_pruned_by_age(world):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import WebhookDelivery

    out = io.StringIO()
    call_command("create_integration", schema="acme", name="old", stdout=out)
    printed = json.loads(out.getvalue())
    send(printed["id"], printed["secret"], payload(total="1", external_id="OLD"))
    send(printed["id"], printed["secret"], payload(total="1", external_id="NEW"))
    with tenant_context(world.acme.tenant):
        WebhookDelivery.objects.filter(order__external_id="OLD").update(received_at=timezone.now() - timedelta(days=40))
    call_command("prune_webhook_deliveries", older_than_days=30, stdout=io.StringIO())
    with tenant_context(world.acme.tenant):
        assert list(WebhookDelivery.objects.values_list("order__external_id", flat=True)) == ["NEW"]


def test_an_admin_s_api_token_cannot_mint_integration_secrets(world):
    """A leaked token must not leave secrets behind that outlive its revocation."""
    from platform_core.tokens import api_token_create

    with tenant_context(world.acme.tenant):
        _, token = api_token_create(user=world.acme.admin, name="ops script")
        integration, _secret = integration_create(name="pos")
    bearer = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    created = bearer.post("/api/integrations", {"name": "backdoor"}, content_type="application/json")
    rotated = bearer.post(f"/api/integrations/{integration.pk}/secrets", content_type="application/json")
    assert [(r.status_code, r.json()["error"]["code"]) for r in (created, rotated)] == [(403, "forbidden")] * 2
    assert bearer.get("/api/integrations").status_code == 200  # reading is fine
    with tenant_context(world.acme.tenant):
        assert IntegrationSecret.objects.count() == 1
