"""GET /api/notifications, POST /api/notifications/read, preferences, the page."""

import json

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from alerts.models import Notification
from alerts.services import notification_create, preferences_update

pytestmark = pytest.mark.django_db


def client_for(cast, who=None) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def notify(cast, who, title, kind=Notification.Kind.SYSTEM):
    with tenant_context(cast.tenant):
        return notification_create(recipient=getattr(cast, who), kind=kind, title=title)


def unread_ids(cast, who):
    with tenant_context(cast.tenant):
        return sorted(
            Notification.objects.filter(recipient=getattr(cast, who), read_at__isnull=True).values_list("pk", flat=True)
        )


def post(client, path, body):
    return client.post(path, data=body if isinstance(body, str) else json.dumps(body), content_type="application/json")


@pytest.fixture
def inboxes(world):
    """Three for acme's customer, one for acme's staff1, one for globex's customer (same user id)."""
    return {
        "c1": notify(world.acme, "customer", "c1"),
        "c2": notify(world.acme, "customer", "c2"),
        "c3": notify(world.acme, "customer", "c3", kind=Notification.Kind.ANNOUNCEMENT),
        "s1": notify(world.acme, "staff1", "s1"),
        "g1": notify(world.globex, "customer", "g1"),
    }


def test_inbox_lists_my_notifications_newest_first_with_the_unread_count(world, inboxes):
    body = client_for(world.acme, "customer").get("/api/notifications").json()
    assert [n["title"] for n in body["results"]] == ["c3", "c2", "c1"]
    assert body["unread_count"] == 3 and body["unseen_count"] == 3 and body["next"] is None
    globex = client_for(world.globex, "customer").get("/api/notifications").json()
    assert [n["title"] for n in globex["results"]] == ["g1"]


def test_unread_filter_and_paging(world, inboxes):
    client = client_for(world.acme, "customer")
    post(client, "/api/notifications/read", {"ids": [inboxes["c2"].pk]})
    assert [n["title"] for n in client.get("/api/notifications?unread=true").json()["results"]] == ["c3", "c1"]
    page = client.get("/api/notifications?page=2&page_size=2").json()
    assert [n["title"] for n in page["results"]] == ["c1"] and page["previous"] == 1
    assert client.get("/api/notifications?unread=yes").status_code == 400


def test_mark_read_changes_only_my_notifications_and_reports_the_rest(world, inboxes):
    mine, staffs, globex = inboxes["c1"].pk, inboxes["s1"].pk, inboxes["g1"].pk
    response = post(
        client_for(world.acme, "customer"), "/api/notifications/read", {"ids": [mine, staffs, globex, 999999]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ids"] == [mine]
    assert sorted(body["unknown_ids"]) == sorted({staffs, globex, 999999})
    assert body["unread_count"] == 2
    assert unread_ids(world.acme, "staff1") == [staffs]
    assert unread_ids(world.globex, "customer") == [globex]


def test_the_same_user_id_in_another_tenant_cannot_read_my_notifications(world, inboxes):
    response = post(client_for(world.globex, "customer"), "/api/notifications/read", {"ids": [inboxes["c1"].pk]})
    assert response.json()["ids"] == [] and response.json()["unknown_ids"] == [inboxes["c1"].pk]
    assert inboxes["c1"].pk in unread_ids(world.acme, "customer")


def test_mark_all_read(world, inboxes):
    body = post(client_for(world.acme, "customer"), "/api/notifications/read", {"all": True}).json()
    assert body["unread_count"] == 0 and sorted(body["ids"]) == sorted(inboxes[k].pk for k in ("c1", "c2", "c3"))
    assert unread_ids(world.acme, "customer") == []
    assert unread_ids(world.acme, "staff1") == [inboxes["s1"].pk]


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({}, 422, "ids"),
        ({"ids": [1], "all": True}, 422, "ids"),
        ({"ids": "1"}, 422, "ids"),
        ({"ids": []}, 422, "ids"),
        ({"ids": ["1"]}, 422, "ids"),
        ({"ids": [True]}, 422, "ids"),
        ({"ids": [-1]}, 422, "ids"),
        ({"ids": [2**64]}, 422, "ids"),
        ({"ids": list(range(1, 1002))}, 422, "ids"),
        ({"all": False}, 422, "all"),
        ({"all": "true"}, 422, "all"),
        ({"ids": [1], "drop": "table"}, 422, "drop"),
        ("not json", 400, None),
        ("[1, 2]", 400, None),
    ],
)
def test_bad_read_requests_are_refused_and_change_nothing(world, inboxes, body, status, field):
    before = unread_ids(world.acme, "customer")
    response = post(client_for(world.acme, "customer"), "/api/notifications/read", body)
    assert response.status_code == status
    if field:
        assert field in response.json()["error"]["fields"]
    assert unread_ids(world.acme, "customer") == before


def test_oversized_read_request_is_413(world, inboxes, settings):
    settings.API_MAX_BODY_BYTES = 50
    response = post(client_for(world.acme, "customer"), "/api/notifications/read", {"ids": list(range(1, 40))})
    assert response.status_code == 413


def test_anonymous_gets_401(world):
    assert Client(HTTP_HOST="acme.localhost").get("/api/notifications").status_code == 401
    assert post(Client(HTTP_HOST="acme.localhost"), "/api/notifications/read", {"all": True}).status_code == 401


def test_muted_kinds_are_listed_but_not_counted(world, inboxes):
    client = client_for(world.acme, "customer")
    response = client.put(
        "/api/notifications/preferences",
        data=json.dumps({"muted_kinds": ["announcement"]}),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["muted_kinds"] == ["announcement"]
    body = client.get("/api/notifications").json()
    assert len(body["results"]) == 3 and body["unread_count"] == 2 and body["unseen_count"] == 2
    assert client.get("/api/notifications/preferences").json()["muted_kinds"] == ["announcement"]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"muted_kinds": ["nonsense"]}, "muted_kinds"),
        ({"muted_kinds": "announcement"}, "muted_kinds"),
        ({"muted_kinds": [1]}, "muted_kinds"),
        ({}, "kinds"),
        ({"muted_kinds": [], "x": 1}, "x"),
    ],
)
def test_bad_preferences_are_refused(world, body, field):
    client = client_for(world.acme, "customer")
    response = client.put("/api/notifications/preferences", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422 and field in response.json()["error"]["fields"]
    assert client.get("/api/notifications/preferences").json()["muted_kinds"] == []


def test_preferences_are_per_tenant(world):
    with tenant_context(world.acme.tenant):
        preferences_update(user=world.acme.customer, muted_kinds=["system"])
    assert client_for(world.globex, "customer").get("/api/notifications/preferences").json()["muted_kinds"] == []


def test_inbox_page_and_the_bell_on_every_tenant_page(world):
    client = client_for(world.acme, "customer")
    for path in ("/", "/notifications/", "/stores/"):
        page = client.get(path).content.decode()
        assert 'id="bell-count"' in page and "alerts/bell.js" in page, path
    assert "alerts/inbox.js" in client.get("/notifications/").content.decode()
    assert Client(HTTP_HOST="acme.localhost").get("/notifications/").status_code == 302
