"""API tokens: Bearer auth on /api/*, hashed at rest, revocable, per tenant."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import tenant_context

from platform_core.models import ApiToken
from platform_core.tokens import api_token_create, api_token_revoke
from tests.factories import create_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(world):
    with tenant_context(world.acme.tenant):
        return api_token_create(user=world.acme.staff1, name="pos")[1]


def bearer(cast, token) -> Client:
    return Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_a_token_reads_and_writes_the_api_without_a_session_or_csrf(world, token):
    order = create_order(world.acme.tenant, external_id="T-1")
    client = bearer(world.acme, token)
    assert [o["external_id"] for o in client.get("/api/stores/1/orders").json()["results"]] == ["T-1"]
    response = client.post(
        f"/api/orders/{order.pk}/status", data='{"status": "accepted"}', content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["status"] == "accepted"


def test_only_a_digest_is_stored(world, token):
    with tenant_context(world.acme.tenant):
        row = ApiToken.objects.get()
    assert token not in (row.digest, row.prefix) and token.split("_")[2] not in row.digest
    assert len(row.digest) == 64


@pytest.mark.parametrize(
    "header", ["Bearer nope", "Bearer ", "Basic abc", "Bearer pgn_x_y", "Token {token}", "Bearer {token}x"]
)
def test_a_wrong_authorization_header_is_401_even_with_a_session(world, token, header):
    client = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=header.format(token=token))
    with tenant_context(world.acme.tenant):
        client.force_login(world.acme.staff1)
    response = client.get("/api/orders")
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Bearer"


def test_a_revoked_token_is_refused(world, token):
    with tenant_context(world.acme.tenant):
        api_token_revoke(user=world.acme.staff1, token_id=ApiToken.objects.get().pk)
    assert bearer(world.acme, token).get("/api/orders").status_code == 401


def test_a_token_of_one_tenant_is_unknown_on_another(world, token):
    # globex's staff1 has the same user id; the token must not become them.
    assert bearer(world.globex, token).get("/api/orders").status_code == 401


def test_a_token_of_an_inactive_user_is_refused(world, token):
    with tenant_context(world.acme.tenant):
        world.acme.staff1.is_active = False
        world.acme.staff1.save()
    assert bearer(world.acme, token).get("/api/orders").status_code == 401


def test_create_api_token_command_prints_the_token_once(world):
    out = io.StringIO()
    call_command("create_api_token", schema="acme", username="staff2", name="ci", stdout=out)
    printed = json.loads(out.getvalue())
    assert printed["token"].startswith("pgn_")
    assert bearer(world.acme, printed["token"]).get("/api/stores/2/orders").status_code == 200


def test_every_generated_token_authenticates(world):
    # The secret part is urlsafe base64, which may itself contain "_".
    with tenant_context(world.acme.tenant):
        tokens = [api_token_create(user=world.acme.staff1, name=f"t{i}")[1] for i in range(20)]
    assert any(token.count("_") > 2 for token in tokens)
    for token in tokens:
        assert bearer(world.acme, token).get("/api/orders").status_code == 200


# --- a leaked token cannot outlive its revocation ---------------------------------------
def session_client(cast, who="staff1") -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    client.force_login(getattr(cast, who))
    return client


def test_a_token_cannot_mint_tokens(world, token):
    response = bearer(world.acme, token).post("/api/tokens", {"name": "successor"}, content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")
    with tenant_context(world.acme.tenant):
        assert list(ApiToken.objects.values_list("name", flat=True)) == ["pos"]


def test_users_create_list_and_revoke_their_own_tokens_from_a_session(world, token):
    with tenant_context(world.acme.tenant):
        client = session_client(world.acme)
        created = client.post("/api/tokens", {"name": "till", "expires_in_days": 30}, content_type="application/json")
        assert created.status_code == 201
        body = created.json()
        assert body["token"].startswith("pgn_") and body["expires_at"] is not None
        listed = client.get("/api/tokens").json()["results"]
        assert [(t["name"], t["revoked"]) for t in listed] == [("till", False), ("pos", False)]
        assert all("token" not in t for t in listed)  # shown once, at creation
        # Another user's listing does not show them, nor may they revoke them.
        other = session_client(world.acme, "staff2")
        assert other.get("/api/tokens").json()["results"] == []
        assert other.delete(f"/api/tokens/{body['id']}").status_code == 404
        assert client.delete(f"/api/tokens/{body['id']}").status_code == 200
    assert bearer(world.acme, body["token"]).get("/api/orders").status_code == 401


def test_a_token_past_its_expiry_is_refused(world):
    from datetime import timedelta

    from django.utils import timezone

    with tenant_context(world.acme.tenant):
        row, plaintext = api_token_create(user=world.acme.staff1, name="short", expires_in_days=1)
    assert bearer(world.acme, plaintext).get("/api/orders").status_code == 200
    with tenant_context(world.acme.tenant):
        ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(world.acme, plaintext).get("/api/orders")
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("days", [0, -1, 3651, "30", 1.5, True, "३०", {"days": 3}])
def test_an_expiry_that_is_not_a_whole_number_of_days_is_refused(world, days):
    with tenant_context(world.acme.tenant):
        response = session_client(world.acme).post(
            "/api/tokens", json.dumps({"name": "x", "expires_in_days": days}), content_type="application/json"
        )
        assert (response.status_code, list(response.json()["error"]["fields"])) == (422, ["expires_in_days"])
        assert not ApiToken.objects.exists()
