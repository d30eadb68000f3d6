"""The delivery log over HTTP: a user's own deliveries (GET
/api/notifications/deliveries), the tenant admins' totals (GET
/api/manage/deliveries/summary) and the tenant's off-site timing (GET/PUT
/api/manage/notification-settings)."""

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from alerts import selectors
from alerts.models import Delivery, Notification
from tenants.models import Job, Tenant
from tests.factories import notify

pytestmark = pytest.mark.django_db


def client_for(cast, who=None) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost")
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def put(client, path, body, **extra):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.put(path, data=data, content_type=extra.pop("content_type", "application/json"), **extra)


def delivery(
    cast,
    who,
    title,
    *,
    id,
    channel="push",
    status="sent",
    reason="",
    detail="",
    age=timedelta(0),
    kind="system",
    params=None,
):
    """A notification with one delivery, both with id `id` (tests of
    isolation collide them on purpose), made `age` ago."""
    at = timezone.now() - age
    with tenant_context(cast.tenant):
        notification = Notification.objects.create(
            id=id,
            recipient=getattr(cast, who),
            kind=kind,
            params=params,
            title=title,
            url=f"/orders/{id}/",
            created_at=at,
        )
        return Delivery.objects.create(
            id=id,
            notification=notification,
            channel=channel,
            status=status,
            reason=reason,
            detail=detail,
            created_at=at,
            updated_at=at,
        )


def tenant_row(cast) -> Tenant:
    return Tenant.objects.get(pk=cast.tenant.pk)


# --- a user's own deliveries ----------------------------------------------------------
def test_my_deliveries_newest_first_with_every_field(world):
    delivery(world.acme, "customer", "older", id=7001, channel="email", status="skipped", reason="read")
    delivery(
        world.acme, "customer", "newer", id=7002, status="failed", reason="error", detail="503 from the push service"
    )
    body = client_for(world.acme, "customer").get("/api/notifications/deliveries").json()
    assert body["next"] is None and body["before"] is None
    newer, older = body["results"]
    with tenant_context(world.acme.tenant):
        stored = Delivery.objects.get(pk=7002)
    assert newer == {
        "id": 7002,
        "notification": {"id": 7002, "title": "newer", "url": "/orders/7002/"},
        "channel": "push",
        "status": "failed",
        "reason": "error",
        "detail": "503 from the push service",
        "created_at": stored.created_at.isoformat(),
        "updated_at": stored.updated_at.isoformat(),
    }
    assert (older["id"], older["channel"], older["status"], older["reason"]) == (7001, "email", "skipped", "read")


def test_the_title_is_in_the_readers_language(world):
    delivery(
        world.acme,
        "customer",
        "stored text",
        id=7003,
        kind="order_status",
        params={"ref": "WEB-1", "status": "accepted"},
    )
    client = client_for(world.acme, "customer")
    title = lambda: client.get("/api/notifications/deliveries").json()["results"][0]["notification"]["title"]  # noqa: E731
    assert title() == "Order WEB-1 is now Accepted"
    with tenant_context(world.acme.tenant):
        type(world.acme.customer).objects.filter(pk=world.acme.customer.pk).update(language="es")
    assert title() == "El pedido WEB-1 ha pasado a: Aceptado"


def test_only_my_own_deliveries_though_ids_collide_across_tenants(world):
    """acme's customer 104 and globex's customer 104 are two people, with
    deliveries of the very same ids; staff1 is another user of acme."""
    for n in (1, 2):
        delivery(world.acme, "customer", f"acme customer {n}", id=7100 + n)
        delivery(world.globex, "customer", f"globex customer {n}", id=7100 + n)
    delivery(world.acme, "staff1", "acme staff1", id=7103)
    delivery(world.globex, "customer", "globex customer 3", id=7104)

    def titles(cast, who, query=""):
        response = client_for(cast, who).get(f"/api/notifications/deliveries{query}")
        assert response.status_code == 200
        return [(d["id"], d["notification"]["title"]) for d in response.json()["results"]]

    assert titles(world.acme, "customer") == [(7102, "acme customer 2"), (7101, "acme customer 1")]
    assert titles(world.globex, "customer") == [
        (7104, "globex customer 3"),
        (7102, "globex customer 2"),
        (7101, "globex customer 1"),
    ]
    assert titles(world.acme, "staff1") == [(7103, "acme staff1")]
    assert titles(world.acme, "staff2") == []
    assert titles(world.acme, "customer", "?before=7102") == [(7101, "acme customer 1")]
    assert titles(world.globex, "customer", "?before=7102") == [(7101, "globex customer 1")]
    # A cursor that is not one of mine (globex's 7104, staff1's 7103, nobody's) tells nothing about it.
    for cursor in (7104, 7103, 7999):
        response = client_for(world.acme, "customer").get(f"/api/notifications/deliveries?before={cursor}")
        assert response.status_code == 400 and "before" in response.json()["error"]["fields"]


def test_cursor_pages_neither_repeat_nor_skip_while_new_deliveries_arrive(world):
    """Each notification made through the services gets a push and an
    e-mail delivery (here skipped: no device, and e-mail off for `system`)."""
    customer = world.acme.customer
    for n in range(5):
        notify(world.acme.tenant, customer, f"n{n}")
    client = client_for(world.acme, "customer")
    with tenant_context(world.acme.tenant):
        expected = list(
            Delivery.objects.filter(notification__recipient=customer)
            .order_by("-notification_id", "-id")
            .values_list("id", flat=True)
        )
    assert len(expected) == 10
    seen, before = [], None
    while True:
        query = "?limit=3" + (f"&before={before}" if before else "")
        page = client.get(f"/api/notifications/deliveries{query}").json()
        seen += [d["id"] for d in page["results"]]
        assert all(
            {d["status"], d["reason"]} in ({"skipped", "no_device"}, {"skipped", "muted"}) for d in page["results"]
        )
        # Arrivals between pages are newer than every page: they come first on the next fresh read.
        notify(world.acme.tenant, customer, f"arrived after {len(seen)}")
        notify(world.acme.tenant, world.acme.staff1, "someone else's")
        before = page["next"]
        if before is None:
            break
        assert before == seen[-1]
    assert seen == expected
    fresh = client.get("/api/notifications/deliveries?limit=100").json()
    assert len(fresh["results"]) == 10 + 2 * 4 and fresh["next"] is None


@pytest.mark.parametrize(
    "query,field",
    [
        ("before=abc", "before"),
        ("before=0", "before"),
        ("before=-1", "before"),
        ("before=%D9%A1%D9%A2", "before"),  # Arabic-Indic "١٢"
        ("before=%C2%B2", "before"),  # "²"
        ("before=1.5", "before"),
        ("before=1e3", "before"),
        ("before=" + "9" * 30, "before"),
        ("before=", "before"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=true", "limit"),
        ("limit=%EF%BC%95", "limit"),  # fullwidth "５"
        ("limit=5&before=x", "before"),
    ],
)
def test_bad_cursors_are_a_clear_400(world, query, field):
    response = client_for(world.acme, "customer").get(f"/api/notifications/deliveries?{query}")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_the_deliveries_need_a_signed_in_user_and_a_get(world):
    assert client_for(world.acme).get("/api/notifications/deliveries").status_code == 401
    response = client_for(world.acme, "customer").post("/api/notifications/deliveries")
    assert response.status_code == 405 and response["Allow"] == "GET"


# --- the tenant admins' totals --------------------------------------------------------
OUTCOMES = [
    ("push", "sent", ""),
    ("push", "sent", ""),
    ("push", "skipped", "read"),
    ("push", "skipped", "seen"),
    ("push", "skipped", "no_device"),
    ("push", "failed", "gone"),
    ("push", "queued", ""),
    ("email", "sent", ""),
    ("email", "skipped", "muted"),
    ("email", "skipped", "muted"),
    ("email", "skipped", "no_address"),
    ("email", "failed", "error"),
    ("email", "sending", ""),
]


def some_outcomes(world):
    """acme: OUTCOMES this week, and two older than the period; globex:
    other outcomes with the same ids."""
    for n, (channel, status, reason) in enumerate(OUTCOMES):
        who = ("customer", "staff1", "admin")[n % 3]
        delivery(world.acme, who, f"acme {n}", id=7200 + n, channel=channel, status=status, reason=reason)
    delivery(world.acme, "customer", "a week and an hour ago", id=7290, age=timedelta(days=7, hours=1))
    delivery(world.acme, "customer", "89 days ago", id=7291, status="failed", reason="error", age=timedelta(days=89))
    for n in range(len(OUTCOMES)):
        delivery(world.globex, "customer", f"globex {n}", id=7200 + n, channel="email", status="failed", reason="error")


def as_counter(counts) -> Counter:
    return Counter({(c["channel"], c["status"], c["reason"]): c["count"] for c in counts})


def test_the_summary_counts_exactly_what_the_rows_say_in_this_tenant_only(world):
    some_outcomes(world)
    response = client_for(world.acme, "admin").get("/api/manage/deliveries/summary")
    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 7
    assert as_counter(body["counts"]) == Counter(OUTCOMES)
    assert all(c["count"] > 0 for c in body["counts"])
    assert sum(c["count"] for c in body["counts"]) == len(OUTCOMES)

    longer = client_for(world.acme, "admin").get("/api/manage/deliveries/summary?days=90").json()
    assert as_counter(longer["counts"]) == Counter([*OUTCOMES, ("push", "sent", ""), ("push", "failed", "error")])

    globex = client_for(world.globex, "admin").get("/api/manage/deliveries/summary").json()
    assert as_counter(globex["counts"]) == Counter({("email", "failed", "error"): len(OUTCOMES)})


def test_the_summary_is_one_grouped_query(world):
    some_outcomes(world)
    with tenant_context(world.acme.tenant), CaptureQueriesContext(connection) as queries:
        counts = selectors.delivery_summary(since=timezone.now() - timedelta(days=7))
    selects = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(selects) == 1 and "GROUP BY" in selects[0]
    assert as_counter(counts) == Counter(OUTCOMES)


def test_an_empty_period_has_no_counts(world):
    body = client_for(world.acme, "admin").get("/api/manage/deliveries/summary?days=1").json()
    assert body == {"days": 1, "since": body["since"], "counts": []}


@pytest.mark.parametrize("days", ["0", "91", "-1", "abc", "7.0", "1e1", "%D9%A7", "", "9" * 30, "true", "%EF%BC%97"])
def test_bad_days_are_a_clear_400(world, days):
    response = client_for(world.acme, "admin").get(f"/api/manage/deliveries/summary?days={days}")
    assert response.status_code == 400
    assert "days" in response.json()["error"]["fields"]


# --- the tenant's timing --------------------------------------------------------------
SETTINGS = "/api/manage/notification-settings"


def test_an_admin_reads_and_changes_the_timing_of_their_tenant_only(world):
    client = client_for(world.acme, "admin")
    assert client.get(SETTINGS).json() == {"push_after_seconds": 30, "email_digest_minutes": 10}
    response = put(client, SETTINGS, {"push_after_seconds": 120})
    assert response.status_code == 200
    assert response.json() == {"push_after_seconds": 120, "email_digest_minutes": 10}
    response = put(client, SETTINGS, {"push_after_seconds": 0, "email_digest_minutes": 1440})
    assert response.json() == {"push_after_seconds": 0, "email_digest_minutes": 1440}
    acme, globex = tenant_row(world.acme), tenant_row(world.globex)
    assert (acme.push_after_seconds, acme.email_digest_minutes) == (0, 1440)
    assert (globex.push_after_seconds, globex.email_digest_minutes) == (30, 10)
    assert client.get(SETTINGS).json() == {"push_after_seconds": 0, "email_digest_minutes": 1440}
    assert client_for(world.globex, "admin").get(SETTINGS).json() == {
        "push_after_seconds": 30,
        "email_digest_minutes": 10,
    }
    # The bounds themselves are accepted.
    assert put(client, SETTINGS, {"push_after_seconds": 3600, "email_digest_minutes": 1}).status_code == 200


HOSTILE = [
    # (raw JSON body, status, field named)
    ('{"push_after_seconds": true}', 422, "push_after_seconds"),
    ('{"push_after_seconds": false}', 422, "push_after_seconds"),
    ('{"push_after_seconds": "60"}', 422, "push_after_seconds"),
    ('{"push_after_seconds": "١٢"}', 422, "push_after_seconds"),
    ('{"push_after_seconds": "\\u0661\\u0662"}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 1e3}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 60.0}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 60.5}', 422, "push_after_seconds"),
    ('{"push_after_seconds": -1}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 3601}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 9223372036854775808}', 422, "push_after_seconds"),
    ('{"push_after_seconds": ' + "9" * 4000 + "}", 422, "push_after_seconds"),
    ('{"push_after_seconds": null}', 422, "push_after_seconds"),
    ('{"push_after_seconds": [60]}', 422, "push_after_seconds"),
    ('{"push_after_seconds": {"value": 60}}', 422, "push_after_seconds"),
    ('{"push_after_seconds": ""}', 422, "push_after_seconds"),
    ('{"email_digest_minutes": 0}', 422, "email_digest_minutes"),
    ('{"email_digest_minutes": 1441}', 422, "email_digest_minutes"),
    ('{"email_digest_minutes": "10"}', 422, "email_digest_minutes"),
    ('{"email_digest_minutes": 10, "push_after_seconds": "x"}', 422, "push_after_seconds"),
    ('{"push_after_seconds": 60, "language": "es"}', 422, "language"),
    ('{"push_after_seconds": 60, "push_after_seconds ": 1}', 422, "push_after_seconds "),
    ("{}", 422, "push_after_seconds"),
    ('{"push_after_seconds": NaN}', 400, None),
    ('{"push_after_seconds": Infinity}', 400, None),
    ('{"push_after_seconds": 60', 400, None),
    ("[60]", 400, None),
    ("60", 400, None),
    ('"push_after_seconds"', 400, None),
    ("[" * 100_000, 413, None),
    ('{"push_after_seconds": 60, "pad": "' + "x" * settings.API_MAX_BODY_BYTES + '"}', 413, None),
    ('{"a": ' * 5000 + "1" + "}" * 5000, 400, None),
]


@pytest.mark.parametrize("body,status,field", HOSTILE, ids=[f"{i}:{b[:40]}" for i, (b, _s, _f) in enumerate(HOSTILE)])
def test_hostile_timing_is_refused_naming_the_field_and_changes_nothing(world, body, status, field):
    response = put(client_for(world.acme, "admin"), SETTINGS, body)
    assert response.status_code == status, response.content[:300]
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert field in error["fields"], error
    acme = tenant_row(world.acme)
    assert (acme.push_after_seconds, acme.email_digest_minutes) == (30, 10)


def test_the_timing_must_be_sent_as_json(world):
    client = client_for(world.acme, "admin")
    response = put(client, SETTINGS, "push_after_seconds=60", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert tenant_row(world.acme).push_after_seconds == 30


@pytest.mark.parametrize("who", ["customer", "staff1", "manager1"])
def test_only_tenant_admins_see_totals_and_timing(world, who):
    client = client_for(world.acme, who)
    for response in (
        client.get(SETTINGS),
        put(client, SETTINGS, {"push_after_seconds": 1}),
        client.get("/api/manage/deliveries/summary"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
    assert tenant_row(world.acme).push_after_seconds == 30


def test_the_other_tenants_admin_is_nobody_here(world):
    """globex's admin 101 is not acme's admin 101: a globex session on
    acme's host is no session at all."""
    client = client_for(world.globex, "admin")
    client.defaults["HTTP_HOST"] = "acme.localhost"
    assert put(client, SETTINGS, {"push_after_seconds": 5}).status_code == 401
    assert client.get("/api/manage/deliveries/summary").status_code == 401
    assert tenant_row(world.acme).push_after_seconds == 30


def test_signed_out_is_401(world):
    client = client_for(world.acme)
    assert client.get(SETTINGS).status_code == 401
    assert put(client, SETTINGS, {"push_after_seconds": 1}).status_code == 401
    assert client.get("/api/manage/deliveries/summary").status_code == 401


def test_a_session_put_needs_the_csrf_token(world):
    client = Client(HTTP_HOST="acme.localhost", enforce_csrf_checks=True)
    with tenant_context(world.acme.tenant):
        client.force_login(world.acme.admin)
    response = put(client, SETTINGS, {"push_after_seconds": 1})
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    assert tenant_row(world.acme).push_after_seconds == 30


def test_the_new_delay_times_the_next_push(world):
    """With no socket open, a push is due at once; the delay is for people
    with the site open (tests/alerts/test_delivery_log_browser.py opens
    one). Here: the tenant row the next notification reads is the new one,
    and a push job is scheduled for it."""
    from alerts.models import PushDevice

    assert put(client_for(world.acme, "admin"), SETTINGS, {"push_after_seconds": 900}).status_code == 200
    with tenant_context(tenant_row(world.acme)):
        assert connection.tenant.push_after_seconds == 900
        PushDevice.objects.create(user=world.acme.customer, endpoint="https://push.invalid/1", p256dh="k", auth="a")
    notification = notify(tenant_row(world.acme), world.acme.customer, "hello")
    with tenant_context(world.acme.tenant):
        push = Delivery.objects.get(notification=notification, channel="push")
    assert push.status == "queued"
    job = Job.objects.get(tenant=world.acme.tenant, kind="alerts.push", object_id=push.pk)
    assert job.due_at <= timezone.now()  # nobody has a socket open: at once
