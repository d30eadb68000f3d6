"""GET /api/push/key, GET/POST/DELETE /api/push/devices and /sw.js: a
browser's subscription becomes one of its user's devices, in its tenant
only; anything else is a clear JSON error and stores nothing."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django_tenants.utils import tenant_context
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from alerts.models import PushDevice
from alerts.services import push_device_register
from platform_core.tokens import api_token_create
from tests.push_service import b64url

pytestmark = pytest.mark.django_db


def client_for(cast, who=None, **options) -> Client:
    client = Client(HTTP_HOST=f"{cast.tenant.schema_name}.localhost", **options)
    if who:
        with tenant_context(cast.tenant):
            client.force_login(getattr(cast, who))
    return client


def send(client, method, body, *, content_type="application/json", path="/api/push/devices", **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.generic(method, path, data, content_type=content_type, **headers)


def devices(cast) -> list[tuple[int, str]]:
    with tenant_context(cast.tenant):
        return list(PushDevice.objects.order_by("pk").values_list("user_id", "endpoint"))


def test_the_key_is_the_public_vapid_key(world, push_keys):
    response = client_for(world.acme, "customer").get("/api/push/key")
    assert response.status_code == 200 and response.json() == {"public_key": push_keys}
    assert client_for(world.acme).get("/api/push/key").status_code == 401


def test_with_push_off_the_key_and_registering_answer_push_unavailable(world, push_stand_in, settings):
    settings.VAPID_PRIVATE_KEY = settings.VAPID_PUBLIC_KEY = ""
    client = client_for(world.acme, "customer")
    response = client.get("/api/push/key")
    assert response.status_code == 404 and response.json()["error"]["code"] == "push_unavailable"
    browser = push_stand_in.subscribe("AAAA")
    response = send(client, "POST", browser.json())
    assert response.status_code == 404 and response.json()["error"]["code"] == "push_unavailable"
    assert devices(world.acme) == []


def test_a_subscription_is_stored_once_per_endpoint_and_moves_to_whoever_registers_it(world, push_keys, push_stand_in):
    browser = push_stand_in.subscribe(push_keys)
    customer = client_for(world.acme, "customer")
    first = send(customer, "POST", browser.json(), HTTP_USER_AGENT="Firefox/140")
    assert first.status_code == 201, first.json()
    assert first.json()["endpoint"] == browser.endpoint and first.json()["user_agent"] == "Firefox/140"
    again = send(customer, "POST", browser.json())
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    with tenant_context(world.acme.tenant):
        device = PushDevice.objects.get()
        assert (device.p256dh, device.auth) == (browser.p256dh, b64url(browser.auth))

    # Another person signs in on that browser and turns push on: theirs now.
    moved = send(client_for(world.acme, "staff1"), "POST", browser.json())
    assert moved.status_code == 201 and moved.json()["id"] == first.json()["id"]
    assert devices(world.acme) == [(world.acme.staff1.pk, browser.endpoint)]
    assert customer.get("/api/push/devices").json() == {"results": []}


def test_someone_who_only_knows_an_endpoint_cannot_take_the_device(world, push_keys, push_stand_in):
    """Seen by an outside test: staff1 posted the customer's endpoint with
    keys of their own and took the device. Moving needs the same keys."""
    browser = push_stand_in.subscribe(push_keys)
    assert send(client_for(world.acme, "customer"), "POST", browser.json()).status_code == 201
    impostor = push_stand_in.subscribe(push_keys).json()
    impostor["endpoint"] = browser.endpoint
    taken = send(client_for(world.acme, "staff1"), "POST", impostor)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "conflict"
    assert devices(world.acme) == [(world.acme.customer.pk, browser.endpoint)]
    with tenant_context(world.acme.tenant):
        assert PushDevice.objects.get().p256dh == browser.p256dh


def test_padded_keys_are_stored_unpadded(world, push_keys, push_stand_in):
    subscription = push_stand_in.subscribe(push_keys).json()
    subscription["keys"] = {"p256dh": subscription["keys"]["p256dh"] + "=", "auth": subscription["keys"]["auth"] + "=="}
    assert send(client_for(world.acme, "customer"), "POST", subscription).status_code == 201
    with tenant_context(world.acme.tenant):
        device = PushDevice.objects.get()
    assert "=" not in device.p256dh + device.auth


def test_the_eleventh_device_replaces_the_oldest(world, push_keys, push_stand_in):
    client = client_for(world.acme, "customer")
    browsers = [push_stand_in.subscribe(push_keys) for _ in range(settings.WEB_PUSH_DEVICES_PER_USER + 1)]
    for browser in browsers:
        assert send(client, "POST", browser.json()).status_code == 201
    kept = [endpoint for _user, endpoint in devices(world.acme)]
    assert kept == [browser.endpoint for browser in browsers[1:]]
    listed = client.get("/api/push/devices").json()["results"]
    assert [device["endpoint"] for device in listed] == [browser.endpoint for browser in reversed(browsers[1:])]


def test_deleting_forgets_only_my_own_device(world, push_keys, push_stand_in):
    mine, theirs = push_stand_in.subscribe(push_keys), push_stand_in.subscribe(push_keys)
    customer, staff = client_for(world.acme, "customer"), client_for(world.acme, "staff1")
    send(customer, "POST", mine.json())
    send(staff, "POST", theirs.json())
    response = send(customer, "DELETE", {"endpoint": theirs.endpoint})
    assert response.status_code == 200 and response.json() == {"deleted": 0}
    assert send(customer, "DELETE", {"endpoint": "https://fcm.googleapis.com/fcm/send/unknown"}).json() == {
        "deleted": 0
    }
    assert send(customer, "DELETE", {"endpoint": mine.endpoint}).json() == {"deleted": 1}
    assert devices(world.acme) == [(world.acme.staff1.pk, theirs.endpoint)]


def test_a_tenant_sees_and_deletes_only_its_own_devices(world, push_keys, push_stand_in):
    """acme's customer and globex's have the same id; the same endpoint
    registered on both hosts is two devices, one in each schema."""
    browser = push_stand_in.subscribe(push_keys)
    acme, globex = client_for(world.acme, "customer"), client_for(world.globex, "customer")
    assert world.acme.customer.pk == world.globex.customer.pk
    assert send(acme, "POST", browser.json()).status_code == 201
    assert globex.get("/api/push/devices").json() == {"results": []}
    assert send(globex, "DELETE", {"endpoint": browser.endpoint}).json() == {"deleted": 0}
    assert devices(world.acme) == [(world.acme.customer.pk, browser.endpoint)]
    assert send(globex, "POST", browser.json()).status_code == 201
    assert len(devices(world.acme)) == len(devices(world.globex)) == 1


def test_api_tokens_may_register_and_sessions_need_the_csrf_token(world, push_keys, push_stand_in):
    with tenant_context(world.acme.tenant):
        _token, plaintext = api_token_create(user=world.acme.customer, name="app")
    bearer = Client(HTTP_HOST="acme.localhost")
    response = send(bearer, "POST", push_stand_in.subscribe(push_keys).json(), HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 201
    strict = client_for(world.acme, "customer", enforce_csrf_checks=True)
    response = send(strict, "POST", push_stand_in.subscribe(push_keys).json())
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    assert send(Client(HTTP_HOST="acme.localhost"), "POST", {}).status_code == 401
    assert len(devices(world.acme)) == 1


def _not_on_the_curve() -> str:
    return b64url(b"\x04" + b"\x01" * 64)


def _hostile_bodies(valid: dict, stand_in) -> dict[str, object]:
    keys = valid["keys"]
    return {
        "no keys": {"endpoint": valid["endpoint"]},
        "no endpoint": {"keys": keys},
        "keys not an object": {**valid, "keys": "p256dh"},
        "keys with more": {**valid, "keys": {**keys, "extra": "x"}},
        "p256dh missing": {**valid, "keys": {"auth": keys["auth"]}},
        "p256dh a number": {**valid, "keys": {**keys, "p256dh": 4}},
        "p256dh nested": {**valid, "keys": {**keys, "p256dh": {"x": keys["p256dh"]}}},
        "p256dh not on the curve": {**valid, "keys": {**keys, "p256dh": _not_on_the_curve()}},
        "p256dh compressed": {**valid, "keys": {**keys, "p256dh": b64url(b"\x02" + b"\x01" * 32)}},
        "p256dh standard base64": {**valid, "keys": {**keys, "p256dh": keys["p256dh"].replace("-", "+") + "+/"}},
        "p256dh Unicode digits": {**valid, "keys": {**keys, "p256dh": "٤" * 87}},
        "p256dh oversized": {**valid, "keys": {**keys, "p256dh": "A" * 5000}},
        "auth 15 bytes": {**valid, "keys": {**keys, "auth": b64url(b"x" * 15)}},
        "auth a list": {**valid, "keys": {**keys, "auth": [keys["auth"]]}},
        "auth empty": {**valid, "keys": {**keys, "auth": ""}},
        "endpoint a number": {**valid, "endpoint": 12345},
        "endpoint null": {**valid, "endpoint": None},
        "endpoint nested": {**valid, "endpoint": {"url": valid["endpoint"]}},
        "endpoint plain http": {**valid, "endpoint": "http://fcm.googleapis.com/fcm/send/abc"},
        "endpoint another host": {**valid, "endpoint": "https://evil.example/fcm/send/abc"},
        "endpoint a lookalike host": {**valid, "endpoint": "https://fcm.googleapis.com.evil.example/send/abc"},
        "endpoint a bare wildcard domain": {**valid, "endpoint": "https://push.apple.com/x"},
        "endpoint with a password": {**valid, "endpoint": "https://user:pw@fcm.googleapis.com/fcm/send/abc"},
        "endpoint another port": {**valid, "endpoint": "https://fcm.googleapis.com:8443/fcm/send/abc"},
        "endpoint the stand-in over https": {**valid, "endpoint": f"https://127.0.0.1:{stand_in.port}/push/x"},
        "endpoint internal": {**valid, "endpoint": "https://169.254.169.254/latest/meta-data"},
        "endpoint file": {**valid, "endpoint": "file:///etc/passwd"},
        "endpoint javascript": {**valid, "endpoint": "javascript:alert(1)"},
        "endpoint Unicode": {**valid, "endpoint": "https://fcm.googleapis.com/fcm/send/ñandú"},
        "endpoint with a space": {**valid, "endpoint": "https://fcm.googleapis.com/fcm/send/a b"},
        "endpoint with a NUL": {**valid, "endpoint": "https://fcm.googleapis.com/fcm/send/a\x00"},
        "endpoint oversized": {**valid, "endpoint": "https://fcm.googleapis.com/fcm/send/" + "a" * 1000},
        "endpoint a bad port": {**valid, "endpoint": "https://fcm.googleapis.com:99999/x"},
        "expirationTime text": {**valid, "expirationTime": "soon"},
        "expirationTime true": {**valid, "expirationTime": True},
        "an extra field": {**valid, "userVisibleOnly": True},
        "a list": [valid],
        "a number": 7,
        "not JSON": "{endpoint:",
        "a lone surrogate": '{"endpoint": "https://fcm.googleapis.com/\\ud800", "keys": {"p256dh": "a", "auth": "b"}}',
        "too deep": "[" * 10_000,
    }


def test_hostile_subscriptions_are_refused_with_json_naming_the_field_and_store_nothing(
    world, push_keys, push_stand_in
):
    client = client_for(world.acme, "customer")
    valid = push_stand_in.subscribe(push_keys).json()
    for name, body in _hostile_bodies(valid, push_stand_in).items():
        response = send(client, "POST", body)
        assert response.status_code in (400, 422), (name, response.status_code, response.content[:300])
        error = response.json()["error"]
        assert error["code"] in ("invalid", "invalid_json"), (name, error)
    assert devices(world.acme) == []
    assert send(client, "POST", valid).status_code == 201, "the valid one, after all of them"


def test_the_fields_named_are_the_wrong_ones(world, push_keys, push_stand_in):
    client = client_for(world.acme, "customer")
    valid = push_stand_in.subscribe(push_keys).json()
    body = {**valid, "endpoint": "http://evil.example/", "keys": {"p256dh": _not_on_the_curve(), "auth": "!"}}
    fields = send(client, "POST", body).json()["error"]["fields"]
    assert set(fields) == {"endpoint", "keys.p256dh", "keys.auth"}
    assert set(send(client, "POST", {"keys": valid["keys"], "more": 1}).json()["error"]["fields"]) == {
        "endpoint",
        "more",
    }


def test_oversized_and_wrongly_typed_bodies(world, push_keys, push_stand_in):
    client = client_for(world.acme, "customer")
    valid = push_stand_in.subscribe(push_keys).json()
    huge = json.dumps({**valid, "padding": "x" * (settings.API_MAX_BODY_BYTES + 1)})
    assert send(client, "POST", huge).status_code == 413
    assert send(client, "POST", json.dumps(valid), content_type="text/plain").status_code == 415
    for method in ("POST", "DELETE"):
        assert send(client, method, "").status_code == 415  # no body: no content type either
        assert send(client, method, " ").status_code == 400
    assert client.put("/api/push/devices").status_code == 405
    assert client.post("/api/push/key").status_code == 405
    assert devices(world.acme) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"endpoint": 5},
        {"endpoint": ""},
        {"endpoint": ["x"]},
        {"endpoint": "x" * 1001},
        {"endpoint": "x", "y": 1},
        [],
    ],
)
def test_deleting_with_a_bad_body_is_refused(world, push_keys, body):
    response = send(client_for(world.acme, "customer"), "DELETE", body)
    assert response.status_code in (400, 422) and "error" in response.json()


FUZZ = hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "endpoint": json_values | st.sampled_from(["https://fcm.googleapis.com/fcm/send/x", "http://127.0.0.1/"]),
            "keys": json_values | st.fixed_dictionaries({"p256dh": json_values, "auth": json_values}),
            "expirationTime": json_values,
        },
    )
    | json_values
)
def test_no_body_is_a_server_error_or_stored(world, push_keys, body):
    # Always a JSON document (`send` would post a str as raw bytes: "" as no body at all).
    response = send(client_for(world.acme, "customer"), "POST", json.dumps(body))
    assert response.status_code in (400, 422), response.content[:300]
    assert devices(world.acme) == []


def test_the_service_worker_is_served_at_the_root_as_javascript(world):
    response = Client(HTTP_HOST="acme.localhost").get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert b'addEventListener("push"' in response.content
    assert b'addEventListener("notificationclick"' in response.content


@pytest.mark.django_db(transaction=True)
def test_two_people_registering_one_endpoint_at_once_leave_one_device(world, push_keys, push_stand_in):
    """Both find no row, both insert: the second insert's unique violation
    becomes an update (no 500), and the endpoint is one device."""
    start = threading.Barrier(2)

    def register(who, browser):
        try:
            start.wait()
            with tenant_context(world.acme.tenant):
                return push_device_register(user=getattr(world.acme, who), subscription=browser.json())[1]
        finally:
            connections.close_all()

    browsers = [push_stand_in.subscribe(push_keys) for _ in range(5)]
    for browser in browsers:
        with ThreadPoolExecutor(2) as pool:
            new = list(pool.map(register, ["customer", "staff1"], [browser, browser]))
        assert new == [True, True], "each is new to whoever registered it"
    assert sorted(endpoint for _user, endpoint in devices(world.acme)) == sorted(b.endpoint for b in browsers)
