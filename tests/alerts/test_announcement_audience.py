""" "Send to N people?": the audience's size, counted on the server in the
host's tenant only, for tenant admins only."""

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def client_of(tenant, user) -> Client:
    client = Client(HTTP_HOST="acme.localhost" if tenant.schema_name == "acme" else "globex.localhost")
    with tenant_context(tenant):
        client.force_login(user)
    return client


def size(client, audience):
    response = client.post(
        "/api/announcements/audience", data=json.dumps({"audience": audience}), content_type="application/json"
    )
    return response.status_code, response.json()


def test_the_count_is_who_delivery_would_reach_in_this_tenant_only(world):
    # globex has more people (and more staff of its store 1): none of them count on acme's host.
    for n in range(3):
        make_user(world.globex.tenant, f"globex-extra-{n}")
    make_user(world.acme.tenant, "gone", is_active=False)
    admin = client_of(world.acme.tenant, world.acme.admin)
    # acme: admin, staff1, staff2, manager1 (staff), customer; staff1 and manager1 on store 1.
    assert size(admin, "everyone") == (200, {"audience": "everyone", "recipients": 5})
    assert size(admin, "staff")[1]["recipients"] == 3
    assert size(admin, "customers")[1]["recipients"] == 1
    assert size(admin, {"stores": [1]})[1]["recipients"] == 2
    assert size(admin, {"stores": [1, 2, 1]})[1]["recipients"] == 3


@pytest.mark.parametrize(
    "audience",
    [
        "all",
        "",
        None,
        ["everyone"],
        {"stores": []},
        {"stores": ["1"]},
        {"stores": ["١"]},  # Unicode digits
        {"stores": [True]},
        {"stores": [3]},  # globex could have it; acme has not
        {"stores": [1], "extra": 1},
        {"stores": {"nested": {"deeper": [1]}}},
    ],
)
def test_a_bad_audience_is_named(world, audience):
    status, body = size(client_of(world.acme.tenant, world.acme.admin), audience)
    assert status == 422 and "audience" in body["error"]["fields"]


def test_bad_bodies_and_non_admins_are_refused(world):
    admin = client_of(world.acme.tenant, world.acme.admin)
    missing = admin.post("/api/announcements/audience", data="{}", content_type="application/json")
    assert missing.status_code == 422 and missing.json()["error"]["fields"] == {"audience": "required"}
    deep = admin.post("/api/announcements/audience", data="[" * 50_000 + "]" * 50_000, content_type="application/json")
    assert deep.status_code in (400, 413)
    huge = admin.post(
        "/api/announcements/audience",
        data=json.dumps({"audience": "everyone", "pad": "x" * 2_000_000}),
        content_type="application/json",
    )
    assert huge.status_code == 413
    for person in (world.acme.staff1, world.acme.manager1, world.acme.customer):
        assert size(client_of(world.acme.tenant, person), "everyone")[0] == 403
    assert Client(HTTP_HOST="acme.localhost").post("/api/announcements/audience").status_code == 401
