"""Web Push end to end, against a local push service that decrypts what it
gets and checks the VAPID token (tests/push_service.py): when a push goes,
when it is dropped, what a push service's answers do, and that two
runners never send one twice."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context
from py_vapid import Vapid
from pywebpush import WebPusher

from alerts import offsite, push
from alerts.models import Delivery, Notification, PushDevice
from alerts.services import kind_policies_update, preferences_update, push_device_register
from orders.services import MAX_TEXT
from platform_core import clock, jobs, vapid
from tenants.models import Job, Tenant
from tests.factories import add_comment, change_status, create_order, login_cookie, notify
from tests.servers import free_port


# --- helpers -----------------------------------------------------------------------------
def register(cast, who, browser) -> PushDevice:
    with tenant_context(cast.tenant):
        device, _new = push_device_register(user=getattr(cast, who), subscription=browser.json())
    return device


def run_pushes() -> int:
    """Run every push job due now, as the job loop would; how many ran."""
    total = 0
    while ran := jobs.run_due(kinds=[offsite.PUSH_JOB]):
        total += ran
    return total


def push_of(cast, notification) -> Delivery:
    with tenant_context(cast.tenant):
        return Delivery.objects.get(notification_id=notification.pk, channel=Delivery.Channel.PUSH)


def outcome(cast, notification) -> tuple[str, str]:
    delivery = push_of(cast, notification)
    return delivery.status, delivery.reason


def job_of(cast, delivery) -> Job:
    with schema_context(get_public_schema_name()):
        return Job.objects.get(tenant=cast.tenant, kind=offsite.PUSH_JOB, object_id=delivery.pk)


def device_endpoints(cast) -> list[str]:
    with tenant_context(cast.tenant):
        return list(PushDevice.objects.order_by("pk").values_list("endpoint", flat=True))


def latest(cast, who="customer") -> Notification:
    with tenant_context(cast.tenant):
        return Notification.objects.filter(recipient=getattr(cast, who)).latest("pk")


def site(host: str) -> str:
    port = f":{settings.SITE_URL_PORT}" if settings.SITE_URL_PORT else ""
    return f"{settings.SITE_URL_SCHEME}://{host}{port}"


# --- the customer's socket closed: at once, once ----------------------------------------------
@pytest.mark.django_db
def test_a_status_change_with_the_socket_closed_pushes_once_in_the_customers_language(world, push_keys, push_stand_in):
    acme = world.acme
    with tenant_context(acme.tenant):
        type(acme.customer).objects.filter(pk=acme.customer.pk).update(language="es")
    browser = push_stand_in.subscribe(push_keys)
    customer = Client(HTTP_HOST="acme.localhost")
    with tenant_context(acme.tenant):
        customer.force_login(acme.customer)
    response = customer.post("/api/push/devices", json.dumps(browser.json()), content_type="application/json")
    assert response.status_code == 201
    order = create_order(acme.tenant, external_id="WEB-1", customer=acme.customer)
    staff = Client(HTTP_HOST="acme.localhost")
    with tenant_context(acme.tenant):
        staff.force_login(acme.staff1)
    response = staff.post(
        f"/api/orders/{order.pk}/status", json.dumps({"status": "accepted"}), content_type="application/json"
    )
    assert response.status_code == 200, response.content

    notification = latest(acme)
    delivery = push_of(acme, notification)
    assert delivery.status == "queued"
    due = job_of(acme, delivery).due_at
    assert abs((due - notification.created_at).total_seconds()) < 2, "nobody online: due at once"

    assert run_pushes() == 1
    assert push_stand_in.delivered(browser) == [
        {
            "id": notification.pk,
            "title": "El pedido WEB-1 ha pasado a: Aceptado",
            "body": "",
            "url": f"{site('acme.localhost')}/orders/{order.pk}/",
            "tag": f"order-{order.pk}",
        }
    ]
    [request] = push_stand_in.requests
    assert request.headers["urgency"] == "high"
    assert request.headers["ttl"] == str(settings.WEB_PUSH_TTL_SECONDS)
    assert request.claims["aud"] == push_stand_in.origin and request.claims["sub"] == settings.VAPID_SUBJECT
    delivery = push_of(acme, notification)
    assert (delivery.status, delivery.reason, delivery.detail) == ("sent", "", "sent to 1 of 1 devices")
    with tenant_context(acme.tenant):
        assert PushDevice.objects.get().last_sent_at is not None

    # Nothing runs twice: not the job, not the handler called again.
    assert run_pushes() == 0
    with tenant_context(acme.tenant):
        push.push_send(delivery.pk)
    assert len(push_stand_in.requests) == 1


# --- the customer's socket open: after the tenant's delay, unless read or seen ------------------
def _set_push_after(tenant: Tenant, seconds: int) -> None:
    tenant.push_after_seconds = seconds
    Tenant.objects.filter(pk=tenant.pk).update(push_after_seconds=seconds)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("then", "expected"),
    [
        ("nothing", ("sent", "")),
        ("read", ("skipped", "read")),
        ("archived", ("skipped", "read")),
        ("seen", ("skipped", "seen")),
    ],
)
async def test_with_the_socket_open_the_push_waits_for_the_tenants_delay(
    open_socket, world, push_keys, push_stand_in, then, expected
):
    acme = world.acme
    await sync_to_async(_set_push_after)(acme.tenant, 20)
    browser = push_stand_in.subscribe(push_keys)
    await sync_to_async(register)(acme, "customer", browser)
    order = await sync_to_async(create_order)(acme.tenant, external_id="WEB-1", customer=acme.customer)
    socket = await open_socket("/ws/notifications/", cookie=await login_cookie(acme.tenant, acme.customer))
    assert (await socket.receive())["type"] == "notifications.unread"

    await sync_to_async(change_status)(acme.tenant, order, "accepted")
    while (frame := await socket.receive())["type"] != "notification.created":
        assert frame["type"] == "order.changed", frame  # the order's page hears it too
    notification = await sync_to_async(latest)(acme)
    delivery = await sync_to_async(push_of)(acme, notification)
    due = (await sync_to_async(job_of)(acme, delivery)).due_at
    assert 19 < (due - notification.created_at).total_seconds() < 22, "a socket open: the tenant's delay"
    assert await sync_to_async(run_pushes)() == 0, "not due yet"

    nid = notification.pk
    if then == "read":
        await socket.send({"type": "notifications.mark_read", "ids": [nid]})
        assert (await socket.receive())["type"] == "notifications.read"
    elif then == "archived":
        await socket.send({"type": "notifications.archive", "ids": [nid]})
        assert (await socket.receive())["type"] == "notifications.archived"
    elif then == "seen":
        await socket.send({"type": "notifications.mark_seen", "ids": [nid]})
        assert (await socket.receive())["type"] == "notifications.seen"

    with clock.travel(19):
        assert await sync_to_async(run_pushes)() == 0
    with clock.travel(22):
        assert await sync_to_async(run_pushes)() == 1
        assert await sync_to_async(run_pushes)() == 0
    assert await sync_to_async(outcome)(acme, notification) == expected
    delivered = push_stand_in.delivered(browser)
    assert [payload["id"] for payload in delivered] == ([nid] if then == "nothing" else [])
    assert len(push_stand_in.requests) == len(delivered), "a dropped push never reaches the push service"


# --- what the push service answers -----------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_device_is_deleted_and_the_others_still_get_it(world, push_keys, push_stand_in, status):
    gone = push_stand_in.subscribe(push_keys, answers=(status,))
    kept = push_stand_in.subscribe(push_keys)
    register(world.acme, "customer", gone)
    register(world.acme, "customer", kept)
    notification = notify(world.acme.tenant, world.acme.customer, "Your table is ready")
    assert run_pushes() == 1
    assert [p["title"] for p in push_stand_in.delivered(kept)] == ["Your table is ready"]
    [tried] = push_stand_in.tried(gone)
    assert tried.status == status and tried.payload["title"] == "Your table is ready", "decrypted, then refused"
    assert device_endpoints(world.acme) == [kept.endpoint]
    delivery = push_of(world.acme, notification)
    assert (delivery.status, delivery.detail) == ("sent", "sent to 1 of 2 devices")


@pytest.mark.django_db
def test_when_every_device_is_gone_the_push_is_skipped_as_gone_and_the_next_finds_no_device(
    world, push_keys, push_stand_in
):
    for status in (404, 410):
        register(world.acme, "customer", push_stand_in.subscribe(push_keys, answers=(status,)))
    first = notify(world.acme.tenant, world.acme.customer, "first")
    assert run_pushes() == 1
    assert outcome(world.acme, first) == ("skipped", "gone")
    assert device_endpoints(world.acme) == []
    second = notify(world.acme.tenant, world.acme.customer, "second")
    assert outcome(world.acme, second) == ("skipped", "no_device")
    assert run_pushes() == 0 and push_stand_in.delivered() == []


@pytest.mark.django_db
def test_a_server_error_is_retried_with_backoff_then_the_delivery_fails(world, push_keys, push_stand_in, settings):
    settings.JOB_RETRY_SECONDS, settings.JOB_MAX_ATTEMPTS = 10, 3
    browser = push_stand_in.subscribe(push_keys, answers=(500, 503, 502))
    register(world.acme, "customer", browser)
    notification = notify(world.acme.tenant, world.acme.customer, "Closing early today")
    delivery = push_of(world.acme, notification)

    assert run_pushes() == 1
    job = job_of(world.acme, delivery)
    assert job.attempts == 1 and job.done_at is None and "500" in job.last_error
    assert 9 < (job.due_at - clock.now()).total_seconds() <= 10, "the first retry after JOB_RETRY_SECONDS"
    assert push_of(world.acme, notification).status == "queued", "queued again for the retry"
    with clock.travel(9):
        assert run_pushes() == 0
    with clock.travel(11):
        assert run_pushes() == 1
        job = job_of(world.acme, delivery)
        assert 19 < (job.due_at - clock.now()).total_seconds() <= 20, "then twice as long"
    with clock.travel(11 + 19):
        assert run_pushes() == 0
    with clock.travel(11 + 21):
        assert run_pushes() == 1
    job = job_of(world.acme, delivery)
    assert job.attempts == 3 and job.done_at is not None
    delivery = push_of(world.acme, notification)
    assert (delivery.status, delivery.reason) == ("failed", "error")
    assert "502" in delivery.detail
    tries = push_stand_in.tried(browser)
    assert [t.status for t in tries] == [500, 503, 502]
    assert all(t.payload["title"] == "Closing early today" for t in tries), "each try decrypted"
    assert device_endpoints(world.acme) == [browser.endpoint], "a server error deletes nothing"


@pytest.mark.django_db
@pytest.mark.parametrize("first", [429, 500])
def test_a_busy_push_service_gets_it_on_the_retry_once(world, push_keys, push_stand_in, settings, first):
    settings.JOB_RETRY_SECONDS = 10
    browser = push_stand_in.subscribe(push_keys, answers=(first,))
    register(world.acme, "customer", browser)
    notification = notify(world.acme.tenant, world.acme.customer, "Back soon")
    assert run_pushes() == 1
    with clock.travel(11):
        assert run_pushes() == 1
        assert run_pushes() == 0
    assert [t.status for t in push_stand_in.tried(browser)] == [first, 201]
    assert len(push_stand_in.delivered(browser)) == 1
    assert outcome(world.acme, notification) == ("sent", "")


@pytest.mark.django_db
def test_a_push_service_that_does_not_answer_is_retried(world, push_keys, push_stand_in, settings):
    port = free_port()  # nothing listens there
    settings.WEB_PUSH_HOSTS = [*settings.WEB_PUSH_HOSTS, f"http://127.0.0.1:{port}"]
    browser = push_stand_in.subscribe(push_keys)
    browser.endpoint = f"http://127.0.0.1:{port}/push/nobody-home"
    register(world.acme, "customer", browser)
    notification = notify(world.acme.tenant, world.acme.customer, "Hello?")
    assert run_pushes() == 1
    delivery = push_of(world.acme, notification)
    assert delivery.status == "queued" and "ConnectionError" in delivery.detail
    job = job_of(world.acme, delivery)
    assert job.attempts == 1 and job.done_at is None and "PushNotSent" in job.last_error


@pytest.mark.django_db
def test_a_subscription_made_with_another_key_is_refused_and_not_retried(world, push_keys, push_stand_in):
    _other_private, other_public = vapid.generate()
    browser = push_stand_in.subscribe(other_public)
    register(world.acme, "customer", browser)
    notification = notify(world.acme.tenant, world.acme.customer, "Hi")
    assert run_pushes() == 1
    [tried] = push_stand_in.tried(browser)
    assert tried.status == 403 and "not the key" in tried.refusal
    delivery = push_of(world.acme, notification)
    assert (delivery.status, delivery.reason) == ("failed", "error") and "403" in delivery.detail
    assert job_of(world.acme, delivery).done_at is not None, "no retry changes a 403"


@pytest.mark.django_db
def test_a_redirect_is_not_followed(world, push_keys, push_stand_in):
    browser = push_stand_in.subscribe(push_keys, answers=(307,))
    register(world.acme, "customer", browser)
    notification = notify(world.acme.tenant, world.acme.customer, "Hi")
    assert run_pushes() == 1
    assert [p.endpoint for p in push_stand_in.requests] == [browser.endpoint], "nothing POSTed to the Location"
    assert outcome(world.acme, notification) == ("failed", "error")


@pytest.mark.django_db
def test_an_endpoint_no_longer_allowed_is_not_posted_to(world, push_keys, push_stand_in, settings):
    register(world.acme, "customer", push_stand_in.subscribe(push_keys))
    settings.WEB_PUSH_HOSTS = [host for host in settings.WEB_PUSH_HOSTS if host != push_stand_in.allowed_host]
    notification = notify(world.acme.tenant, world.acme.customer, "Hi")
    assert run_pushes() == 1
    assert push_stand_in.requests == []
    delivery = push_of(world.acme, notification)
    assert (delivery.status, delivery.reason) == ("failed", "error") and "endpoint refused" in delivery.detail


# --- the stand-in itself can refuse: its checks are real ------------------------------------------
def _raw_push(browser, *, signer: Vapid, claims: dict, data: bytes = b'{"title": "x"}', headers=None):
    encoded = WebPusher(browser.json()).encode(data, "aes128gcm")
    sent = {"TTL": "60", "Content-Encoding": "aes128gcm", **signer.sign(claims), **(headers or {})}
    return requests.post(browser.endpoint, data=encoded["body"], headers=sent, timeout=5)


@pytest.mark.django_db
def test_the_stand_in_refuses_what_a_push_service_refuses(push_keys, push_stand_in, settings):
    browser = push_stand_in.subscribe(push_keys)
    ours = Vapid(private_key=vapid.private_key(settings.VAPID_PRIVATE_KEY))
    other = Vapid(private_key=vapid.private_key(vapid.generate()[0]))
    good = {"aud": push_stand_in.origin, "sub": "mailto:ops@pregon.test", "exp": int(time.time()) + 3600}
    assert _raw_push(browser, signer=ours, claims=good).status_code == 201

    # Signed by another key, which it names as k: a valid token, not this subscription's key.
    assert _raw_push(browser, signer=other, claims=good).status_code == 403
    # Our k, another key's signature.
    forged = other.sign(good)["Authorization"].split("k=")[0] + "k=" + ours.sign(good)["Authorization"].split("k=")[1]
    assert _raw_push(browser, signer=ours, claims=good, headers={"Authorization": forged}).status_code == 401
    for claims in (
        {**good, "aud": "https://fcm.googleapis.com"},
        {**good, "exp": int(time.time()) - 60},
        {**good, "exp": int(time.time()) + 25 * 3600},
    ):
        assert _raw_push(browser, signer=ours, claims=claims).status_code == 401, claims
    assert _raw_push(browser, signer=ours, claims=good, headers={"Authorization": "Bearer x"}).status_code == 401
    assert _raw_push(browser, signer=ours, claims=good, headers={"TTL": "soon"}).status_code == 400
    # Encrypted for another browser: it cannot decrypt it.
    stranger = push_stand_in.subscribe(push_keys)
    encoded = WebPusher(stranger.json()).encode(b"{}", "aes128gcm")
    refused = requests.post(
        browser.endpoint,
        data=encoded["body"],
        headers={"TTL": "60", "Content-Encoding": "aes128gcm", **ours.sign(good)},
        timeout=5,
    )
    assert refused.status_code == 400
    assert len(push_stand_in.delivered(browser)) == 1


# --- preferences, people and devices that changed meanwhile -------------------------------------
@pytest.mark.django_db
def test_a_kind_turned_off_for_push_meanwhile_is_skipped_unless_the_tenant_made_it_critical(
    world, push_keys, push_stand_in
):
    acme = world.acme
    browser = push_stand_in.subscribe(push_keys)
    register(acme, "customer", browser)
    order = create_order(acme.tenant, external_id="WEB-9", customer=acme.customer)
    change_status(acme.tenant, order, "accepted")
    muted = latest(acme)
    with tenant_context(acme.tenant):
        preferences_update(user=acme.customer, kinds_channels={"order_status": {"push": False}})
    assert run_pushes() == 1
    assert outcome(acme, muted) == ("skipped", "muted")

    change_status(acme.tenant, order, "preparing")
    assert outcome(acme, latest(acme)) == ("skipped", "muted"), "turned off: skipped when made"

    with tenant_context(acme.tenant):
        kind_policies_update(actor=acme.admin, policies={"order_status": {"critical": True}})
    change_status(acme.tenant, order, "ready")
    critical = latest(acme)
    assert run_pushes() == 1
    assert outcome(acme, critical) == ("sent", "")
    assert [p["id"] for p in push_stand_in.delivered(browser)] == [critical.pk]


@pytest.mark.django_db
def test_a_deactivated_user_and_a_device_removed_meanwhile_get_nothing(world, push_keys, push_stand_in):
    acme = world.acme
    browser = push_stand_in.subscribe(push_keys)
    register(acme, "customer", browser)
    first = notify(acme.tenant, acme.customer, "first")
    with tenant_context(acme.tenant):
        PushDevice.objects.all().delete()
    assert run_pushes() == 1
    assert outcome(acme, first) == ("skipped", "no_device")

    register(acme, "customer", browser)
    second = notify(acme.tenant, acme.customer, "second")
    with tenant_context(acme.tenant):
        type(acme.customer).objects.filter(pk=acme.customer.pk).update(is_active=False)
    assert run_pushes() == 1
    assert outcome(acme, second) == ("skipped", "muted")
    assert push_stand_in.requests == []


@pytest.mark.django_db
def test_with_push_turned_off_a_queued_push_fails_and_says_why(world, push_keys, push_stand_in, settings):
    register(world.acme, "customer", push_stand_in.subscribe(push_keys))
    notification = notify(world.acme.tenant, world.acme.customer, "Hi")
    settings.VAPID_PRIVATE_KEY = settings.VAPID_PUBLIC_KEY = ""
    assert run_pushes() == 1
    delivery = push_of(world.acme, notification)
    assert (delivery.status, delivery.reason) == ("failed", "error") and "VAPID" in delivery.detail
    assert push_stand_in.requests == []


@pytest.mark.django_db
def test_a_long_comment_is_cut_to_fit_a_push(world, push_keys, push_stand_in):
    acme = world.acme
    browser = push_stand_in.subscribe(push_keys)
    register(acme, "customer", browser)
    order = create_order(acme.tenant, external_id="WEB-" + "🍕" * 96, customer=acme.customer)
    add_comment(acme.tenant, order, acme.staff1, "🍕" * MAX_TEXT)  # 4 bytes each in UTF-8
    assert run_pushes() == 1
    [payload] = push_stand_in.delivered(browser)
    assert len(payload["body"]) == push.MAX_BODY and payload["body"].endswith("…")
    assert payload["title"].startswith("New comment on order WEB-🍕")
    [request] = push_stand_in.requests
    assert request.headers["content-encoding"] == "aes128gcm"


# --- two runners, one push ------------------------------------------------------------------
def _in_thread(work):
    """Run `work` on a thread of its own (its own database connection), as
    another worker process would; close the connection after."""

    def run():
        try:
            return work()
        finally:
            connections.close_all()

    return run


@pytest.mark.django_db(transaction=True)
def test_two_job_runners_racing_send_each_push_exactly_once(world, push_keys, push_stand_in):
    acme = world.acme
    phone, laptop = push_stand_in.subscribe(push_keys), push_stand_in.subscribe(push_keys)
    register(acme, "customer", phone)
    register(acme, "customer", laptop)
    push_stand_in.delay = 0.02  # each push takes a moment: the runners overlap
    notifications = [notify(acme.tenant, acme.customer, f"news {i}") for i in range(12)]
    start = threading.Barrier(2)

    def runner():
        start.wait()
        ran = 0
        while claimed := jobs.run_due(limit=1, kinds=[offsite.PUSH_JOB]):
            ran += claimed
        return ran

    with ThreadPoolExecutor(2) as pool:
        ran = [future.result() for future in [pool.submit(_in_thread(runner)) for _ in range(2)]]
    assert sum(ran) == 12 and min(ran) > 0, ran
    expected = sorted(n.pk for n in notifications)
    for browser in (phone, laptop):
        assert sorted(p["id"] for p in push_stand_in.delivered(browser)) == expected
    assert len(push_stand_in.requests) == 24
    assert {outcome(acme, n) for n in notifications} == {("sent", "")}


@pytest.mark.django_db(transaction=True)
def test_the_same_push_run_twice_at_once_is_sent_once(world, push_keys, push_stand_in):
    """What a job run again after its lease ran out (its first run still
    busy) would do: the delivery's own lock and state keep it to one."""
    acme = world.acme
    browser = push_stand_in.subscribe(push_keys)
    register(acme, "customer", browser)
    push_stand_in.delay = 0.5
    notification = notify(acme.tenant, acme.customer, "once")
    delivery = push_of(acme, notification)
    start = threading.Barrier(2)

    def run():
        start.wait()
        with tenant_context(acme.tenant):
            push.push_send(delivery.pk)

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(_in_thread(run)) for _ in range(2)]:
            future.result()
    assert len(push_stand_in.requests) == 1
    assert outcome(acme, notification) == ("sent", "")


# --- tenants: the same ids, separate devices --------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_colliding_ids_each_tenant_pushes_only_to_its_own_customers_devices(world, push_keys, push_stand_in):
    acme_phone, globex_phone = push_stand_in.subscribe(push_keys), push_stand_in.subscribe(push_keys)
    register(world.acme, "customer", acme_phone)
    register(world.globex, "customer", globex_phone)
    acme_order = create_order(world.acme.tenant, external_id="ACME-1", customer=world.acme.customer)
    globex_order = create_order(world.globex.tenant, external_id="GLOBEX-1", customer=world.globex.customer)
    change_status(world.acme.tenant, acme_order, "accepted")
    change_status(world.globex.tenant, globex_order, "accepted")
    acme_news, globex_news = latest(world.acme), latest(world.globex)
    assert world.acme.customer.pk == world.globex.customer.pk
    assert acme_news.pk == globex_news.pk and acme_order.pk == globex_order.pk
    assert push_of(world.acme, acme_news).pk == push_of(world.globex, globex_news).pk, "the same job object id"

    assert run_pushes() == 2
    [to_acme] = push_stand_in.delivered(acme_phone)
    [to_globex] = push_stand_in.delivered(globex_phone)
    assert "ACME-1" in to_acme["title"] and to_acme["url"].startswith(site("acme.localhost") + "/")
    assert "GLOBEX-1" in to_globex["title"] and to_globex["url"].startswith(site("globex.localhost") + "/")


@pytest.mark.django_db(transaction=True)
def test_an_endpoint_registered_in_acme_is_not_used_for_globex(world, push_keys, push_stand_in):
    browser = push_stand_in.subscribe(push_keys)
    register(world.acme, "customer", browser)
    globex_news = notify(world.globex.tenant, world.globex.customer, "for globex's customer")
    assert outcome(world.globex, globex_news) == ("skipped", "no_device")
    assert run_pushes() == 0 and push_stand_in.requests == []
    acme_news = notify(world.acme.tenant, world.acme.customer, "for acme's customer")
    assert run_pushes() == 1
    assert [p["id"] for p in push_stand_in.delivered(browser)] == [acme_news.pk]


# --- a device lives as long as the sign-in that registered it ------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("ending", ["sign_out", "password_change", "token_revoked"])
def test_a_device_stops_getting_pushes_when_its_sign_in_ends(world, push_keys, push_stand_in, ending):
    from platform_core.tokens import api_token_create

    acme = world.acme
    browser = push_stand_in.subscribe(push_keys)
    client = Client(HTTP_HOST="acme.localhost")
    headers = {}
    with tenant_context(acme.tenant):
        if ending == "token_revoked":
            token_row, token = api_token_create(user=acme.customer, name="phone")
            headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        else:
            client.force_login(acme.customer)
    response = client.post("/api/push/devices", json.dumps(browser.json()), content_type="application/json", **headers)
    assert response.status_code == 201
    first = notify(acme.tenant, acme.customer, "while signed in")
    assert run_pushes() == 1 and len(push_stand_in.delivered(browser)) == 1

    with tenant_context(acme.tenant):
        if ending == "sign_out":
            client.logout()
        elif ending == "password_change":
            acme.customer.set_password("a-new-secret-987")
            acme.customer.save()
        else:
            type(token_row).objects.filter(pk=token_row.pk).update(revoked_at=timezone.now())
    after = notify(acme.tenant, acme.customer, "after the sign-in ended")
    run_pushes()
    assert len(push_stand_in.delivered(browser)) == 1  # nothing more reached that browser
    assert outcome(acme, first) == ("sent", "")
    assert outcome(acme, after) == ("skipped", "no_device")
    assert device_endpoints(acme) == []
