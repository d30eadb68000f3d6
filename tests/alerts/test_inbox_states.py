"""Seen, archived, the cursor and per-channel preferences over HTTP, with
colliding ids (acme and globex both have user 1 with notification 1)."""

import json

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from alerts.models import Notification, NotificationKindPolicy, NotificationPreference
from alerts.services import notification_create

pytestmark = pytest.mark.django_db


def client_for(cast, who=None, **headers) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", **headers)
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def notify(cast, who, title, kind=Notification.Kind.SYSTEM):
    with tenant_context(cast.tenant):
        return notification_create(recipient=getattr(cast, who), kind=kind, title=title)


def post(client, path, body):
    return client.post(path, data=body if isinstance(body, str) else json.dumps(body), content_type="application/json")


def put(client, path, body):
    return client.put(path, data=body if isinstance(body, str) else json.dumps(body), content_type="application/json")


def state(cast, pk):
    with tenant_context(cast.tenant):
        return Notification.objects.values("seen_at", "read_at", "archived_at").get(pk=pk)


def counts(client):
    body = client.get("/api/notifications").json()
    return body["unread_count"], body["unseen_count"]


@pytest.fixture
def twins(world):
    """acme's customer and globex's customer (the same user id) each get
    three, created in lockstep so their ids collide."""
    for cast in (world.acme, world.globex):
        with tenant_context(cast.tenant), connection.cursor() as cursor:
            # The same next id in both schemas (earlier tests used more in one).
            cursor.execute("SELECT setval(pg_get_serial_sequence('alerts_notification', 'id'), 1000, false)")
    mine, theirs = [], []
    for i in range(3):
        mine.append(notify(world.acme, "customer", f"a{i}"))
        theirs.append(notify(world.globex, "customer", f"g{i}"))
    assert [n.pk for n in mine] == [n.pk for n in theirs]
    return mine, theirs


def test_seen_clears_the_badge_not_unread(world, twins):
    mine, theirs = twins
    client = client_for(world.acme, "customer")
    assert counts(client) == (3, 3)
    response = post(client, "/api/notifications/seen", {"ids": [mine[0].pk]})
    assert response.status_code == 200
    assert response.json() == {"ids": [mine[0].pk], "unknown_ids": [], "unread_count": 3, "unseen_count": 2}
    assert counts(client) == (3, 2)
    assert post(client, "/api/notifications/seen", {"all": True}).json()["unseen_count"] == 0
    assert counts(client) == (3, 0)
    # globex's customer 1, with the same notification ids, is untouched.
    assert counts(client_for(world.globex, "customer")) == (3, 3)
    assert state(world.globex, theirs[0].pk)["seen_at"] is None


def test_reading_sees_and_archiving_reads_and_leaves_every_count(world, twins):
    mine, theirs = twins
    client = client_for(world.acme, "customer")
    assert post(client, "/api/notifications/read", {"ids": [mine[0].pk]}).json()["unseen_count"] == 2
    assert state(world.acme, mine[0].pk)["seen_at"] is not None

    response = post(client, "/api/notifications/archive", {"ids": [mine[1].pk]})
    assert response.json() == {"ids": [mine[1].pk], "unknown_ids": [], "unread_count": 1, "unseen_count": 1}
    archived = state(world.acme, mine[1].pk)
    assert archived["archived_at"] and archived["read_at"] and archived["seen_at"]
    assert [n["id"] for n in client.get("/api/notifications?box=all").json()["results"]] == [mine[2].pk, mine[0].pk]
    assert [n["id"] for n in client.get("/api/notifications?box=unread").json()["results"]] == [mine[2].pk]
    assert [n["id"] for n in client.get("/api/notifications?box=archived").json()["results"]] == [mine[1].pk]
    assert counts(client_for(world.globex, "customer")) == (3, 3)
    assert state(world.globex, theirs[1].pk)["archived_at"] is None


def test_unarchive_puts_it_back_read_and_archive_read_takes_every_read_one(world, twins):
    mine, _ = twins
    client = client_for(world.acme, "customer")
    post(client, "/api/notifications/archive", {"ids": [mine[0].pk]})
    response = post(client, "/api/notifications/unarchive", {"ids": [mine[0].pk]})
    assert response.json() == {"ids": [mine[0].pk], "unknown_ids": [], "unread_count": 2, "unseen_count": 2}
    back = state(world.acme, mine[0].pk)
    assert back["archived_at"] is None and back["read_at"] is not None

    post(client, "/api/notifications/read", {"ids": [mine[1].pk]})
    response = post(client, "/api/notifications/archive", {"read": True})
    assert sorted(response.json()["ids"]) == [mine[0].pk, mine[1].pk]
    assert response.json()["unread_count"] == 1
    assert [n["id"] for n in client.get("/api/notifications").json()["results"]] == [mine[2].pk]
    box = client.get("/api/notifications?box=archived").json()["results"]
    assert [n["id"] for n in box] == [mine[1].pk, mine[0].pk]
    assert all(n["archived_at"] and n["read_at"] for n in box)


def test_someone_elses_ids_are_reported_and_untouched(world, twins):
    mine, _ = twins
    staff_one = notify(world.acme, "staff1", "theirs")
    client = client_for(world.acme, "customer")
    for path in ("seen", "archive", "unarchive", "read"):
        response = post(client, f"/api/notifications/{path}", {"ids": [staff_one.pk, 10**9]})
        assert response.status_code == 200
        assert response.json()["ids"] == [] and response.json()["unknown_ids"] == [staff_one.pk, 10**9]
    assert state(world.acme, staff_one.pk) == {"seen_at": None, "read_at": None, "archived_at": None}


HOSTILE_IDS = [
    None,
    "1",
    [],
    ["1"],
    ["١٢"],
    [-1],
    [0],
    [True],
    [1.5],
    [2**63],
    [[1]],
    [{"id": 1}],
    [None],
    {"1": 1},
    list(range(1, 10_002)),
]


@pytest.mark.parametrize("path", ["seen", "archive", "unarchive", "read"])
@pytest.mark.parametrize("ids", HOSTILE_IDS, ids=lambda v: repr(v)[:20])
def test_bad_ids_are_refused_and_change_nothing(world, twins, path, ids):
    mine, _ = twins
    client = client_for(world.acme, "customer")
    response = post(client, f"/api/notifications/{path}", {"ids": ids})
    assert response.status_code in (400, 413, 422), response.content
    assert response.json()["error"]["code"] in ("invalid", "too_large")
    assert counts(client) == (3, 3)


@pytest.mark.parametrize(
    "path,body",
    [
        ("seen", {}),
        ("seen", {"all": False}),
        ("seen", {"all": 1}),
        ("seen", {"all": True, "ids": [1]}),
        ("seen", {"read": True}),
        ("archive", {"read": "true"}),
        ("archive", {"all": True}),
        ("archive", {"read": None}),
        ("unarchive", {}),
        ("unarchive", {"all": True}),
        ("seen", "[1, 2]"),
        ("seen", "not json"),
        ("archive", "null"),
    ],
)
def test_bad_bodies_are_refused(world, twins, path, body):
    client = client_for(world.acme, "customer")
    response = post(client, f"/api/notifications/{path}", body)
    assert response.status_code in (400, 422), response.content
    assert "error" in response.json()
    assert counts(client) == (3, 3)


def test_state_changes_need_a_signed_in_user_and_csrf(world, twins):
    anonymous = Client(HTTP_HOST="acme.localhost")
    for path in ("seen", "archive", "unarchive"):
        assert post(anonymous, f"/api/notifications/{path}", {"ids": [1]}).status_code == 401
    strict = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    with tenant_context(world.acme.tenant):
        strict.force_login(world.acme.customer)
    assert post(strict, "/api/notifications/archive", {"ids": [twins[0][0].pk]}).status_code == 403
    assert state(world.acme, twins[0][0].pk)["archived_at"] is None


# --- the cursor -------------------------------------------------------------------------
def test_cursor_pages_120_without_repeat_or_skip_while_new_ones_arrive(world):
    with tenant_context(world.acme.tenant):
        first = [
            notification_create(recipient=world.acme.customer, kind="system", title=f"n{i}").pk for i in range(120)
        ]
    client = client_for(world.acme, "customer")
    seen, before, arrived = [], None, []
    while True:
        query = "/api/notifications?limit=25" + (f"&before={before}" if before else "")
        body = client.get(query).json()
        seen += [n["id"] for n in body["results"]]
        arrived.append(notify(world.acme, "customer", "arrived while paging").pk)
        before = body["next"]
        if before is None:
            break
    assert seen == sorted(first, reverse=True)  # every one, once, newest first
    assert all(pk > max(first) for pk in arrived)
    # The newest page, asked again, starts with what arrived.
    assert client.get("/api/notifications?limit=5").json()["results"][0]["id"] == arrived[-1]


def test_cursor_page_shape_and_limits(world, twins):
    mine, _ = twins
    client = client_for(world.acme, "customer")
    body = client.get("/api/notifications?limit=2").json()
    assert [n["id"] for n in body["results"]] == [mine[2].pk, mine[1].pk]
    assert body["next"] == mine[1].pk and body["box"] == "all" and body["before"] is None
    last = client.get(f"/api/notifications?limit=2&before={body['next']}").json()
    assert [n["id"] for n in last["results"]] == [mine[0].pk] and last["next"] is None
    assert set(body["results"][0]) >= {
        "id",
        "kind",
        "title",
        "body",
        "url",
        "created_at",
        "seen_at",
        "read_at",
        "archived_at",
        "order_id",
    }


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=١٢",
        "limit=1.5",
        "limit=",
        "before=0",
        "before=abc",
        "before=٣",
        "before=99999999999999999999999",
        "box=inbox",
        "box=",
        "box=ALL",
        "page=1&before=5",
        "unread=true&box=all",
    ],
)
def test_bad_cursor_queries_are_400(world, twins, query):
    response = client_for(world.acme, "customer").get(f"/api/notifications?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "bad_request"


def test_numbered_pages_still_answer(world, twins):
    client = client_for(world.acme, "customer")
    body = client.get("/api/notifications?page=1&page_size=2").json()
    assert body["count"] == 3 and body["pages"] == 2 and body["unseen_count"] == 3


# --- preferences per kind and channel; critical kinds --------------------------------------------
def test_preferences_per_kind_and_channel(world):
    client = client_for(world.acme, "customer")
    kinds = client.get("/api/notifications/preferences").json()["kinds"]
    assert kinds["order_status"] == {
        "label": "Order status",
        "critical": False,
        "channels": {"in_app": True, "push": True, "email": True},  # their own order's news: mailed by default
    }
    assert kinds["announcement"]["channels"] == {"in_app": True, "push": True, "email": False}
    response = put(client, "/api/notifications/preferences", {"kinds": {"order_status": {"email": False}}})
    assert response.status_code == 200
    response = put(client, "/api/notifications/preferences", {"kinds": {"order_status": {"in_app": False}}})
    assert response.json()["kinds"]["order_status"]["channels"] == {"in_app": False, "push": True, "email": False}
    assert response.json()["muted_kinds"] == ["order_status"]
    # Colliding ids: globex's customer 1 has its own preferences.
    globex = client_for(world.globex, "customer").get("/api/notifications/preferences").json()
    assert globex["kinds"]["order_status"]["channels"]["in_app"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"kinds": {"nonsense": {"in_app": False}}},
        {"kinds": {"order_status": {"in_app": "false"}}},
        {"kinds": {"order_status": {"in_app": 0}}},
        {"kinds": {"order_status": {"sms": False}}},
        {"kinds": {"order_status": {}}},
        {"kinds": {"order_status": None}},
        {"kinds": {"order_status": [False]}},
        {"kinds": {}},
        {"kinds": []},
        {"kinds": None},
        {"kinds": {"order_status": {"in_app": False}}, "muted_kinds": []},
        {"kinds": {"order_status": {"in_app": {"nested": False}}}},
    ],
)
def test_bad_preferences_change_nothing(world, body):
    client = client_for(world.acme, "customer")
    response = put(client, "/api/notifications/preferences", body)
    assert response.status_code in (400, 422), response.content
    with tenant_context(world.acme.tenant):
        assert not NotificationPreference.objects.filter(channels__has_key="order_status").exists()


def test_a_critical_kind_cannot_be_muted_and_is_counted_whatever_was_stored(world):
    cast = world.acme
    client = client_for(cast, "customer")
    put(client, "/api/notifications/preferences", {"kinds": {"order_status": {"in_app": False}}})
    notify(cast, "customer", "muted", kind="order_status")
    assert counts(client) == (0, 0)

    admin = client_for(cast, "admin")
    response = put(admin, "/api/manage/notification-kinds", {"kinds": {"order_status": {"critical": True}}})
    assert response.status_code == 200
    assert response.json()["kinds"]["order_status"] == {"label": "Order status", "critical": True}
    # The stored choice is overruled: counted, and shown as on.
    assert counts(client) == (1, 1)
    kinds = client.get("/api/notifications/preferences").json()["kinds"]
    assert kinds["order_status"]["critical"] is True and kinds["order_status"]["channels"]["in_app"] is True
    response = put(client, "/api/notifications/preferences", {"kinds": {"order_status": {"email": False}}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "critical_kind"
    response = put(client, "/api/notifications/preferences", {"muted_kinds": ["order_status"]})
    assert response.status_code == 422 and response.json()["error"]["code"] == "critical_kind"
    # Other tenants are untouched (globex has no critical kind).
    assert (
        client_for(world.globex, "admin")
        .get("/api/manage/notification-kinds")
        .json()["kinds"]["order_status"]["critical"]
        is False
    )
    # No longer critical: the customer's own choice holds again.
    put(admin, "/api/manage/notification-kinds", {"kinds": {"order_status": {"critical": False}}})
    assert counts(client) == (0, 0)


def test_only_tenant_admins_manage_kinds(world):
    for who in ("customer", "staff1", "manager1"):
        client = client_for(world.acme, who)
        assert client.get("/api/manage/notification-kinds").status_code == 403
        response = put(client, "/api/manage/notification-kinds", {"kinds": {"order_status": {"critical": True}}})
        assert response.status_code == 403
    assert Client(HTTP_HOST="acme.localhost").get("/api/manage/notification-kinds").status_code == 401
    with tenant_context(world.acme.tenant):
        assert not NotificationKindPolicy.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"kinds": {"order_status": {"critical": "yes"}}},
        {"kinds": {"order_status": {"critical": 1}}},
        {"kinds": {"order_status": {}}},
        {"kinds": {"order_status": {"critical": True, "x": 1}}},
        {"kinds": {"nope": {"critical": True}}},
        {"kinds": {"order_status": None}},
        {"kinds": []},
        {},
        {"kinds": {"order_status": {"critical": True}}, "x": 1},
    ],
)
def test_bad_kind_policies_change_nothing(world, body):
    response = put(client_for(world.acme, "admin"), "/api/manage/notification-kinds", body)
    assert response.status_code in (400, 422), response.content
    with tenant_context(world.acme.tenant):
        assert not NotificationKindPolicy.objects.exists()
