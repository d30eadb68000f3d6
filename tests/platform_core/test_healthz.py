import copy

import pytest
from django.db import connection
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize("host", ["acme.localhost", "localhost"])
def test_healthz_answers_200_with_json_on_tenant_and_public_hosts(tenants, host):
    response = Client(HTTP_HOST=host).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "channel_layer": "ok"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_is_503_when_the_channel_layer_is_unreachable(tenants, settings):
    # A real Redis client against a port where nothing listens.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    response = Client(HTTP_HOST="acme.localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "channel_layer": "fail"}


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_not_500_when_the_database_is_unreachable(tenants):
    client = Client(HTTP_HOST="acme.localhost")
    saved = copy.deepcopy(connection.settings_dict)
    pooled = "pool" in connection.settings_dict.get("OPTIONS", {})

    def reset():
        connection.close()
        if pooled:
            connection.close_pool()  # the next connection builds a pool from settings_dict

    # A real connection attempt to a port where no PostgreSQL listens.
    reset()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    if pooled:
        connection.settings_dict["OPTIONS"]["pool"] = {**saved["OPTIONS"]["pool"], "min_size": 0, "timeout": 1}
    try:
        response = client.get("/healthz")
    finally:
        reset()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == "fail"
    # And it recovers by itself once the database is back.
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_healthz_refuses_other_methods(tenants):
    assert Client(HTTP_HOST="acme.localhost").post("/healthz").status_code == 405


@pytest.mark.django_db
def test_unknown_host_gets_404_for_pages(tenants):
    assert Client(HTTP_HOST="nope.localhost").get("/").status_code == 404


@pytest.mark.django_db
def test_probes_by_ip_are_answered_but_pages_on_a_disallowed_host_are_refused(tenants):
    # Load balancers probe by the instance's IP, which is in no ALLOWED_HOSTS.
    assert Client(HTTP_HOST="10.1.2.3:8000").get("/healthz").status_code == 200
    # django-tenants answers a disallowed host with a plain 404.
    assert Client(HTTP_HOST="evil.example.com").get("/").status_code == 404
